"""History names a step wherever it lands, the first commit after the base and the newest included; find bisects to
the one in the middle; a broken commit is skipped.

A temporary git repository holds seven commits of this repository's storage/ package: the reference, then one that
plants a 2x cost in compare_runs (the first after the base), one whose store does not import (fixed by the next), one
that plants a 2x cost in get_recent_runs, a comment after it, and the newest, which doubles compare_runs' again. Both
commands run on it as a user runs them in this repository (`python -m bench`, the default store), with the smallest
benchmark. The application's layout, the answers per commit and every kind of commit that cannot serve are
tests/harness/test_installed_tool.py's.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bench.errors import ExitCode
from bench.gate.planted import plant_slowdown_in_source
from bench.report.publish import SCHEMA
from tests.common.store_repository import REPO_ROOT, commit, new_repository

pytestmark = pytest.mark.timed  # asserts timing jobs' verdicts: run alone (nox -s tests)

BENCHMARK = "get_recent_runs[100]"
EDGES = "compare_runs[5000]"  # slowed at the first commit after the base, and again at the newest
FAST = ("--processes", "4", "--rounds", "4")


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    repo = new_repository(tmp_path_factory.mktemp("history-repo"))
    optimized = repo / "storage" / "optimized.py"
    original = optimized.read_text()
    commits: dict[str, str] = {"reference": commit(repo, "reference")}
    first = plant_slowdown_in_source(original, "compare_runs", 100)
    plan = [
        ("compare_runs twice as slow", first),
        ("does not import", first + "\nthis line is not python\n"),
        ("fixed again", first + "\n# two\n"),
        ("get_recent_runs twice as slow", plant_slowdown_in_source(first, "get_recent_runs", 100)),
    ]
    slow = plan[-1][1]
    plan.append(("after it", slow + "\n# after\n"))  # no step: the level after one, on both benchmarks
    plan.append(("compare_runs twice as slow again", plant_slowdown_in_source(slow, "compare_runs", 100)))
    for message, source in plan:
        optimized.write_text(source)
        commits[message] = commit(repo, message)
    return {"repo": repo, "commits": commits}


def _bench(command_name: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bench", command_name, *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def history(repository: dict[str, object], tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    output = tmp_path_factory.mktemp("points")
    summary = output / "history.json"
    repo = str(repository["repo"])
    # --no-answers: the answers per commit are tests/harness/test_installed_tool.py's, on the application's history.
    args = ["--repo", repo, "--output", str(output), "--only", BENCHMARK, "--only", EDGES, "--no-answers", *FAST]
    run = _bench("history", "--last", "8", *args, "--json", str(summary))
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    document = json.loads(summary.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))  # a real history's summary follows its schema
    return {"run": run, "document": document, "output": output, "args": args}


def test_history_reports_a_change_point_at_the_commit_that_doubled_the_cost(
    repository: dict[str, object], history: dict[str, object]
) -> None:
    commits = repository["commits"]
    assert isinstance(commits, dict)
    document = history["document"]
    assert isinstance(document, dict)
    found = [cp for cp in document["details"]["change_points"] if cp["benchmark"] == BENCHMARK]
    assert [cp["commit"] for cp in found] == [commits["get_recent_runs twice as slow"]], history["run"]
    assert 1.3 < found[0]["step"]["low"] <= found[0]["step"]["estimate"] <= found[0]["step"]["high"]
    assert found[0]["verdict"] == "regressed" and found[0]["previous_commit"] == commits["fixed again"]


def test_history_names_a_step_at_the_first_commit_after_the_base_and_at_the_newest(
    repository: dict[str, object], history: dict[str, object]
) -> None:
    commits = repository["commits"]
    assert isinstance(commits, dict)
    document = history["document"]
    assert isinstance(document, dict)
    found = [cp for cp in document["details"]["change_points"] if cp["benchmark"] == EDGES]
    edges = [commits["compare_runs twice as slow"], commits["compare_runs twice as slow again"]]
    assert [cp["commit"] for cp in found] == edges, history["run"].stdout
    assert all(cp["verdict"] == "regressed" and cp["step"]["low"] > 1.3 for cp in found), found


def test_history_records_a_commit_whose_store_does_not_import_as_skipped_with_the_reason(
    repository: dict[str, object], history: dict[str, object]
) -> None:
    commits = repository["commits"]
    assert isinstance(commits, dict)
    document = history["document"]
    assert isinstance(document, dict)
    skipped = {p["commit"]: p["skipped"] for p in document["details"]["points"] if p["skipped"] is not None}
    assert list(skipped) == [commits["does not import"]]
    assert "cannot be imported" in skipped[commits["does not import"]]
    assert len(document["details"]["points"]) == 7  # the reference and the plan's 6 commits
    assert all(point["equivalence"] is None for point in document["details"]["points"])  # --no-answers


def test_history_resumes_skipping_what_this_machine_measured(history: dict[str, object]) -> None:
    args = history["args"]
    assert isinstance(args, list)
    again = _bench("history", "--last", "8", *args)
    assert again.returncode == ExitCode.OK, again.stdout + again.stderr
    assert again.stderr.count("already measured here") == 7  # measuring says itself on stderr


def test_shards_split_the_commits_between_runners(repository: dict[str, object], tmp_path: Path) -> None:
    from bench.history.points import Commit, shard

    commits = [Commit(str(n), "", "") for n in range(10)]
    shares = [shard(commits, f"{k}/3") for k in (1, 2, 3)]
    assert [[int(c.sha) for c in share] for share in shares] == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]


def test_find_names_the_commit_that_doubled_the_cost(repository: dict[str, object]) -> None:
    commits = repository["commits"]
    assert isinstance(commits, dict)
    repo = str(repository["repo"])
    run = _bench("find", commits["reference"], commits["after it"], "--only", BENCHMARK, "--repo", repo, *FAST)
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    lines = run.stdout.strip().splitlines()
    slow = commits["get_recent_runs twice as slow"]
    first = f"first slow commit: {slow} get_recent_runs twice as slow"
    assert first in lines, run.stdout
    # Then its diff against its parent, the commit before it: the planted busy-wait named by the function it wraps.
    diff = lines[lines.index(first) + 1 :]
    assert diff[0] == f"against its parent {commits['fixed again'][:12]}:", run.stdout
    assert diff[1].startswith(f"why {BENCHMARK} (cProfile, ") and any("slowed (" in line for line in diff), run.stdout
    steps = [line for line in lines if line.startswith("step ")]
    # 5 commits after GOOD: the check of BAD, about log2(5) steps, and one for the commit that does not import
    assert len(steps) <= 5, run.stdout
    assert [line for line in steps if ": skipped: " in line and "cannot be imported" in line], run.stdout


def test_the_report_shows_the_history_and_its_change_point(
    repository: dict[str, object], history: dict[str, object], tmp_path: Path
) -> None:
    from bench.report import build as report

    sample = Path(__file__).parents[1] / "data" / "report_sample"
    shutil.copytree(sample, tmp_path / "results")
    shutil.copytree(str(history["output"]), tmp_path / "results" / "history", ignore=shutil.ignore_patterns("*.tmp"))
    output = report.write_report(tmp_path / "results", fallback=tmp_path / "results")
    text = output.read_text()
    section = text.split("\n## History across commits", 1)[1].split("\n## ", 1)[0]
    commits = repository["commits"]
    assert isinstance(commits, dict)
    slow = commits["get_recent_runs twice as slow"]
    assert f"| {BENCHMARK} | `{slow[:12]}` | get_recent_runs twice as slow | +" in section
    assert "6 commits measured (1 skipped)" in section  # 7 points, one skipped
    assert (output.parent / "report" / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
