"""The gate against a revision passes an unchanged commit and fails a slower one, naming only its benchmarks.

A temporary git repository holds three commits of this repository's storage/ package: the
reference, one that changes only a comment, and one that plants +30% in get_recent_runs in the
committed source. The gate runs on each checkout against the reference, as CI runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bench.errors import ExitCode
from bench.gate.planted import plant_slowdown_in_source
from bench.model.stats import clopper_pearson
from bench.report.publish import SCHEMA, STEP_SUMMARY_VARIABLE
from tests.common.store_repository import REPO_ROOT, commit, git, new_repository

pytestmark = pytest.mark.timed  # asserts timing jobs' verdicts: run alone (nox -s tests)

SLOWED = "get_recent_runs"
# The smallest benchmark of the slowed method, and one of another method that must stay unchanged.
BENCHMARKS = ("get_recent_runs[100]", "get_run_metrics_warm[5000]")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | Path]:
    repo = new_repository(tmp_path_factory.mktemp("history"))
    optimized = repo / "storage" / "optimized.py"
    reference = commit(repo, "reference")
    optimized.write_text(optimized.read_text() + "\n# A comment, and nothing else.\n")
    comment = commit(repo, "a comment only")
    optimized.write_text(plant_slowdown_in_source(optimized.read_text(), SLOWED, 30))
    slower = commit(repo, f"{SLOWED} 30% slower")
    return {"repo": repo, "reference": reference, "comment": comment, "slower": slower}


def _gate_on(
    history: dict[str, str | Path], checkout: str, *args: str, step_summary: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The gate with the temporary repository's checkout as the working tree (its storage/ first on the path)."""
    repo = Path(history["repo"])
    git(repo, "checkout", "-q", "--detach", checkout)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(REPO_ROOT)])}
    environment.pop(STEP_SUMMARY_VARIABLE, None)
    if step_summary is not None:
        environment[STEP_SUMMARY_VARIABLE] = str(step_summary)
    only = [arg for name in BENCHMARKS for arg in ("--only", name)]
    # The answers are tests/harness/test_installed_tool.py's and test_answers.py's business: these time only.
    command = [
        sys.executable,
        "-m",
        "bench",
        "gate",
        *only,
        "--processes",
        "3",
        "--rounds",
        "6",
        "--no-answers",
        "--verbose",
        *args,
    ]
    return subprocess.run(command, cwd=repo, env=environment, capture_output=True, text=True, timeout=600)


def _verdict_lines(run: subprocess.CompletedProcess[str]) -> dict[str, str]:
    lines = {}
    for line in run.stdout.splitlines():
        for name in BENCHMARKS:
            if f" {name}: working tree/" in line:
                lines[name] = line
    return lines


def test_a_commit_that_changes_only_a_comment_passes_on_the_clock_and_on_the_counts(
    history: dict[str, str | Path],
) -> None:
    run = _gate_on(history, str(history["comment"]), "--against", str(history["reference"]))
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    lines = _verdict_lines(run)
    assert set(lines) == set(BENCHMARKS), run.stdout
    # Each a passing verdict: inconclusive after the last look passes too (bench/rule.py).
    assert all(line.startswith(("UNCHANGED", "IMPROVED", "INCONCLUSIVE")) for line in lines.values()), run.stdout
    # Counted by default, both sides in the same run: a comment changes no instruction and no system call.
    for name in BENCHMARKS:
        assert f"UNCHANGED  {name}: instructions/call " in run.stdout, run.stdout
    assert run.stdout.strip().splitlines()[-1].startswith("no regression in 2 benchmarks: working tree against ")


def test_a_commit_30_percent_slower_in_one_method_fails_on_that_methods_benchmarks_only(
    history: dict[str, str | Path], tmp_path: Path
) -> None:
    published = {"--json": tmp_path / "gate.json", "--markdown": tmp_path / "gate.md"}
    options = [str(item) for pair in published.items() for item in pair]
    step_summary = tmp_path / "step_summary.md"
    run = _gate_on(
        history,
        str(history["slower"]),
        "--against",
        str(history["reference"]),
        "--no-counts",  # the wall clock's verdict; the counts' are the test above's and test_instructions.py's
        *options,
        step_summary=step_summary,
    )
    assert run.returncode == ExitCode.FAILED, run.stdout + run.stderr
    lines = _verdict_lines(run)
    assert lines["get_recent_runs[100]"].startswith("REGRESSED"), run.stdout
    assert not lines["get_run_metrics_warm[5000]"].startswith("REGRESSED"), run.stdout
    assert run.stdout.strip().splitlines()[-1].startswith("1 of 2 benchmarks fails: get_recent_runs[100]")

    # The same verdicts, published: JSON by its schema, Markdown with the failure first, the job summary.
    document = json.loads(published["--json"].read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert not document["passed"] and document["details"]["against"]["commit"] == history["reference"]
    assert {row["benchmark"]: row["fails"] for row in document["rows"]} == {
        "get_recent_runs[100]": True,
        "get_run_metrics_warm[5000]": False,
    }
    text = published["--markdown"].read_text()
    assert text.startswith("### Perf gate: FAILED")
    first_row = next(line for line in text.splitlines() if line.startswith("| `"))
    assert first_row.startswith("| `get_recent_runs[100]` |") and "**regressed**" in first_row
    assert step_summary.read_text() == text


def test_a_revision_that_does_not_resolve_is_a_usage_error_naming_it(history: dict[str, str | Path]) -> None:
    run = _gate_on(history, str(history["comment"]), "--against", "no-such-revision")
    assert run.returncode == ExitCode.USAGE, run.stdout + run.stderr
    assert "revision 'no-such-revision' does not name a commit" in run.stderr


def test_a_revision_whose_answers_fail_the_check_is_a_usage_error_naming_it(
    history: dict[str, str | Path],
) -> None:
    repo = Path(history["repo"])
    git(repo, "checkout", "-q", "--detach", str(history["reference"]))
    optimized = repo / "storage" / "optimized.py"
    answers_nothing = "\nMetricsStorage.get_recent_runs = staticmethod(lambda *args, **kwargs: [])\n"
    optimized.write_text(optimized.read_text() + answers_nothing)
    wrong = commit(repo, "answers nothing")
    run = _gate_on(history, str(history["comment"]), "--against", wrong)
    assert run.returncode == ExitCode.USAGE, run.stdout + run.stderr
    assert f"the store at {wrong[:12]} fails the answer check" in run.stderr


def test_clopper_pearson_upper_bound_of_no_failures_in_30_runs() -> None:
    low, high = clopper_pearson(0, 30)
    assert low == 0.0
    assert high == pytest.approx(1 - 0.025 ** (1 / 30), rel=1e-9)
    assert clopper_pearson(30, 30) == (pytest.approx(0.025 ** (1 / 30), rel=1e-9), 1.0)
