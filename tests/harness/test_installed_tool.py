"""The harness where the store really lives: pip-installed (no extras) into a virtualenv outside this checkout, its
console script run inside an application-shaped repository, over the shapes the application's real history has.

tests/common/application_repository.py builds the repository: the store at src/astraguard/hil/metrics/storage.py, a
stray src/__init__.py and packaging settings for part of the history, every import form, a package __init__ that
imports a module nobody installed, side branches merged back (one whose commits do not serve, one whose
get_recent_runs stats every entry), commits that change only latency.py and its saved output, and a stale cache.
The gate, history, find and equivalence run there through `metrics-store-bench`, as the application's CI runs them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from bench.errors import ExitCode
from bench.history.points import load_points
from bench.report.publish import SCHEMA
from bench.report.sections import history_section
from tests.common import application_repository as app
from tests.common.store_repository import REPO_ROOT

pytestmark = pytest.mark.timed  # asserts timing jobs' verdicts: run alone (nox -s tests)

BENCHMARK = "get_recent_runs[100]"
OTHER = "get_run_metrics_warm[5000]"  # another method's benchmark, which must not fail
FAST = ("--processes", "3", "--rounds", "4")
STORE = ("--store", app.STORE)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv outside the checkout with this repository pip-installed in it (not editable)."""
    folder = tmp_path_factory.mktemp("venv")
    assert REPO_ROOT not in folder.parents
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, timeout=300)
    # --no-compile: the bytecode of numpy and the rest is written as they are imported, not all ahead (half the time).
    # No extras: `pip install <repository>` alone must give every command what it needs.
    install = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile", str(REPO_ROOT)]
    done = subprocess.run(install, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return folder


@pytest.fixture(scope="module")
def application(tmp_path_factory: pytest.TempPathFactory) -> app.ApplicationRepository:
    return app.build(tmp_path_factory.mktemp("application"))


def _environment() -> dict[str, str]:
    """This process's environment without what would let the checkout's code in: only the installed copy runs."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}


def _tool(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(venv / "bin" / "metrics-store-bench"), *args]
    return subprocess.run(command, cwd=cwd, env=_environment(), capture_output=True, text=True, timeout=900)


def _checkout(application: app.ApplicationRepository, label: str, tmp_path: Path) -> Path:
    """A work tree of the application at the commit `label`, beside the repository (the shared one stays on main)."""
    folder = tmp_path / f"worktree-{label.replace(' ', '-')}"
    application.git("worktree", "add", "-q", "--detach", str(folder), application.commits[label])
    return folder


def test_the_install_adds_one_top_level_package_and_shadows_nothing(venv: Path) -> None:
    python = str(venv / "bin" / "python")
    probe = (
        "import importlib.util, json\n"
        "print(json.dumps({n: importlib.util.find_spec(n) is not None for n in "
        "('bench', 'storage', 'tests', 'metrics_store_bench')}))"
    )
    outside = {"cwd": venv, "env": _environment(), "capture_output": True, "text": True, "check": True}
    found = json.loads(subprocess.run([python, "-c", probe], **outside).stdout)
    assert found == {"bench": False, "storage": False, "tests": False, "metrics_store_bench": True}
    listing = "import importlib.metadata as m; print('\\n'.join(str(f) for f in m.files('metrics-store-bench')))"
    files = subprocess.run([python, "-c", listing], **outside).stdout.split()
    top = {path.split("/")[0] for path in files if not path.startswith("..")}
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert top == {"metrics_store_bench", f"metrics_store_bench-{version}.dist-info"}, top
    assert any(path == "metrics_store_bench/_lib/storage/baseline.py" for path in files)
    assert any(path == "metrics_store_bench/_lib/storage/latency.py" for path in files)
    shown = _tool(venv, venv, "--help")
    assert shown.returncode == 0 and shown.stdout.startswith("usage: metrics-store-bench"), shown.stderr


def _gate(
    venv: Path, tree: Path, *args: str, counts: bool = False
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """The gate against the commit's first parent; its verdict lines by benchmark. The counts only where asked: the
    gate's own tests count, and one count here shows they run installed."""
    counting = () if counts else ("--no-counts",)
    run = _tool(venv, tree, "gate", *STORE, "--against", "HEAD~1", *FAST, "--verbose", *counting, *args)
    verdicts = {}
    for line in run.stdout.splitlines():
        if "working tree/" in line:
            name = next(word for word in line.split() if "[" in word).rstrip(":")
            verdicts[name] = line
    return run, verdicts


def test_the_gate_passes_a_commit_that_changed_only_the_collector_and_says_so(
    venv: Path, application: app.ApplicationRepository, tmp_path: Path
) -> None:
    tree = _checkout(application, "collector only", tmp_path)  # latency.py changed, storage.py did not
    run, verdicts = _gate(venv, tree, "--only", BENCHMARK, counts=True)
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    assert list(verdicts) == [BENCHMARK] and verdicts[BENCHMARK].startswith(
        ("UNCHANGED", "IMPROVED", "INCONCLUSIVE")
    ), run.stdout
    # The same store counts the same, installed too: instructions and every system call.
    assert f"UNCHANGED  {BENCHMARK}: instructions/call " in run.stdout and "system calls the same" in run.stdout
    assert run.stdout.strip().splitlines()[-1].startswith("no regression in 1 benchmarks: working tree against HEAD~1")
    assert "  working tree: store identical; collector changed: saved files differ: latency_raw.csv" in run.stdout


def test_the_gate_fails_the_merge_that_brought_the_slowdown_naming_get_recent_runs(
    venv: Path, application: app.ApplicationRepository, tmp_path: Path
) -> None:
    tree = _checkout(application, "merge listing", tmp_path)
    summary = tmp_path / "gate.json"
    run, verdicts = _gate(venv, tree, "--only", BENCHMARK, "--json", str(summary))  # the stale cache's: OTHER's
    assert run.returncode == ExitCode.FAILED, run.stdout + run.stderr
    assert verdicts[BENCHMARK].startswith("REGRESSED"), run.stdout
    document = json.loads(summary.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert document["headline"].startswith(f"1 of 1 benchmarks fails: {BENCHMARK}")
    assert document["details"]["store"] == f"{app.STORE}:MetricsStorage"
    assert document["details"]["answers"]["working_tree"]["verdict"] == "identical"


def test_the_gate_fails_a_stale_cache_for_its_answers_not_its_speed(
    venv: Path, application: app.ApplicationRepository, tmp_path: Path
) -> None:
    tree = _checkout(application, "stale cache", tmp_path)
    summary = tmp_path / "gate.json"
    run, verdicts = _gate(venv, tree, "--only", OTHER, "--only", BENCHMARK, "--json", str(summary))
    assert run.returncode == ExitCode.FAILED, run.stdout + run.stderr
    # Its warm read is hundreds of times faster: from a cache that goes stale, so no speed-up at all.
    assert verdicts[OTHER].startswith(f"ANSWERS DIFFER {OTHER}"), run.stdout
    assert "; get_run_metrics answers otherwise than the frozen original's: " in verdicts[OTHER]
    # The listing, untouched by the cache, passes (inconclusive after the last look passes too).
    assert verdicts[BENCHMARK].startswith(("UNCHANGED", "IMPROVED", "INCONCLUSIVE")), run.stdout
    assert "  working tree: store differs in get_run_metrics, compare_runs" in run.stdout
    document = json.loads(summary.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert document["headline"].startswith(f"1 of 2 benchmarks fails: {OTHER}")
    assert [row["verdict"] for row in document["rows"] if row["benchmark"] == OTHER] == ["answers differ"]
    allowed, verdicts = _gate(venv, tree, "--only", OTHER, "--allow-different-answers")
    assert allowed.returncode == ExitCode.OK, allowed.stdout + allowed.stderr
    assert verdicts[OTHER].startswith("IMPROVED") and "(allowed)" in verdicts[OTHER], allowed.stdout


def test_the_gate_exits_1_when_the_working_trees_store_cannot_serve_and_2_when_the_references_cannot(
    venv: Path, application: app.ApplicationRepository, tmp_path: Path
) -> None:
    mine = _tool(
        venv, _checkout(application, "async", tmp_path), "gate", *STORE, "--against", "HEAD~1", *FAST, "--no-counts"
    )
    assert mine.returncode == ExitCode.FAILED, mine.stdout + mine.stderr
    assert "the working tree's src/astraguard/hil/metrics/storage.py: MetricsStorage.save_latency_stats is a " in (
        mine.stderr
    )
    theirs = _tool(
        venv, _checkout(application, "signature", tmp_path), "gate", *STORE, "--against", "HEAD~1", *FAST, "--no-counts"
    )
    assert theirs.returncode == ExitCode.USAGE, theirs.stdout + theirs.stderr
    assert f"{application.commits['async'][:12]}): {app.STORE}: MetricsStorage.save_latency_stats is a coroutine" in (
        theirs.stderr
    )


@pytest.fixture(scope="module")
def history(venv: Path, application: app.ApplicationRepository, tmp_path_factory: pytest.TempPathFactory) -> dict:
    summary = tmp_path_factory.mktemp("history") / "history.json"
    started = time.monotonic()
    run = _tool(
        venv,
        application.path,
        "history",
        "--last",
        "20",
        *STORE,
        "--only",
        BENCHMARK,
        *FAST,
        "--verbose",
        "--json",
        str(summary),
    )
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    document = json.loads(summary.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    print(f"history of {len(document['details']['points'])} commits: {time.monotonic() - started:.0f} s")
    return {"run": run, "document": document, "rows": _table(run.stdout)}


def _table(text: str) -> dict[str, str]:
    """history's table, by short commit hash."""
    rows = ("\n" + text).split("\nhistory of ", 1)[1].split("\n", 1)[1].split("\nchange points", 1)[0]
    return {line.split()[0]: line for line in rows.splitlines()}


def test_history_walks_main_first_parent_and_measures_every_commit_that_can_serve(
    application: app.ApplicationRepository, history: dict
) -> None:
    points = history["document"]["details"]["points"]
    assert [p["commit"] for p in points] == [application.commits[label] for label in application.main_line]
    skipped = {p["commit"]: p["skipped"] for p in points if p["skipped"] is not None}
    assert list(skipped) == [application.commits["exporter"]], history["run"].stdout  # side branches: not walked
    reason = skipped[application.commits["exporter"]]
    assert "ModuleNotFoundError: No module named 'prometheus_client'" in reason and "import roots [" in reason
    assert all(BENCHMARK in p["benchmarks"] for p in points if p["skipped"] is None)
    assert application.commits["merge hotfix"] not in {p["commit"] for p in points}  # main had its change first


def test_history_names_the_merge_that_brought_the_slowdown_as_its_one_change_point(
    application: app.ApplicationRepository, history: dict
) -> None:
    found = history["document"]["details"]["change_points"]
    assert [(cp["benchmark"], cp["commit"]) for cp in found] == [(BENCHMARK, application.commits["merge listing"])], (
        history["run"].stdout
    )
    step = found[0]["step"]
    assert 1.5 < step["low"] <= step["estimate"] <= step["high"] and 1.6 < step["estimate"] < 2.8  # a stat per entry
    assert found[0]["verdict"] == "regressed" and found[0]["previous_commit"] == application.commits["collector only"]


def test_history_reads_the_original_its_rewrites_and_collector_changes_right(
    application: app.ApplicationRepository, history: dict
) -> None:
    rows = history["rows"]

    def answers(label: str) -> str:
        return rows[application.commits[label][:12]].split("answers: ", 1)[1]

    for label in ("initial", "docstrings", "src package", "print again", "merge async"):
        assert answers(label).startswith("store identical; collector"), (label, answers(label))
    assert "store identical; collector changed: same output as the original's" in answers("docstrings")
    for label in ("collector floats", "collector validation", "collector only"):
        assert answers(label).startswith("store identical; collector changed: saved files differ: latency_raw.csv")
    assert answers("merge listing").startswith("store identical; collector unchanged: saved files differ")
    assert answers("stale cache").startswith("store differs in get_run_metrics, compare_runs; collector unchanged")


def test_history_shows_when_the_answers_changed_beside_when_the_speed_did(
    application: app.ApplicationRepository, history: dict
) -> None:
    changes = history["document"]["details"]["answer_changes"]
    assert [c["commit"] for c in changes] == [
        application.commits[label] for label in ("logging", "print again", "collector floats", "stale cache")
    ], history["run"].stdout
    logging, floats = changes[0], changes[2]
    assert (logging["before"], logging["after"]) == (
        "store identical; collector unchanged: same output as the original's",
        "store differs in get_run_metrics, compare_runs; collector unchanged: same output as the original's",
    )
    assert floats["after"].startswith("store identical; collector changed: saved files differ: latency_raw.csv line 2")
    text = history["run"].stdout
    assert f"  {application.commits['logging'][:12]}  Log load errors instead of printing them\n" in text


def test_the_report_shows_when_the_answers_changed(application: app.ApplicationRepository, history: dict) -> None:
    points = load_points(application.path / ".metrics-store-bench" / "history")  # the installed tool's default
    section = history_section(SimpleNamespace(history=points), [])
    logging = application.commits["logging"]
    assert "Answers: 12 commits checked against the frozen original" in section, section
    assert f"| `{logging[:12]}` | Log load errors instead of printing them | store identical; collector unchanged" in (
        section
    )


def test_a_hint_names_the_command_as_the_user_typed_it(venv: Path, tmp_path: Path) -> None:
    """Installed, a hint says metrics-store-bench, never python -m bench (publish's needs the [site] extra; the
    installed tool here has none, so preview's is the one shown)."""
    run = _tool(venv, tmp_path, "preview", str(tmp_path))
    assert run.returncode == ExitCode.USAGE, run.stdout + run.stderr
    assert "run `metrics-store-bench publish` first" in run.stderr, run.stderr


def test_find_names_the_merge_that_brought_the_slowdown(venv: Path, application: app.ApplicationRepository) -> None:
    first = application.commits["initial"]
    run = _tool(venv, application.path, "find", first, "main", "--only", BENCHMARK, *STORE, *FAST)
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    assert "first-parent commits after" in run.stdout
    lines = run.stdout.strip().splitlines()
    first = f"first slow commit: {application.commits['merge listing']} Merge branch 'feature/listing'"
    assert first in lines, run.stdout
    # Then its diff against its parent: the stat per entry, tied to the comprehension and the function it is in.
    diff = lines[lines.index(first) + 1 :]
    assert diff[0] == f"against its parent {application.commits['merge hotfix'][:12]}:", run.stdout
    assert diff[1].startswith(f"why {BENCHMARK} (cProfile, "), run.stdout
    assert diff[2].startswith("  posix.stat ") and re.search(r"← get_recent_runs \(storage\.py:\d+\)$", diff[3])


@pytest.mark.parametrize(
    ("label", "status", "verdict"),
    [
        ("initial", ExitCode.OK, "store identical; collector: same output as the original's"),  # a root commit
        ("logging", ExitCode.FAILED, "store differs in get_run_metrics, compare_runs; collector unchanged: same"),
        ("collector only", ExitCode.OK, "store identical; collector changed: saved files differ: latency_raw.csv"),
    ],
)
def test_equivalence_judges_one_revisions_store_and_its_collector_apart(
    venv: Path, application: app.ApplicationRepository, label: str, status: ExitCode, verdict: str
) -> None:
    sha = application.commits[label]
    started = time.monotonic()
    run = _tool(venv, application.path, "equivalence", *STORE, "--profile", "quick", sha)
    print(f"equivalence {label}: {time.monotonic() - started:.1f} s")
    assert run.returncode == status, run.stdout + run.stderr
    assert f"at {sha[:12]}: {verdict}" in run.stdout


def test_a_command_for_this_repositorys_committed_results_refuses_to_run_installed(
    venv: Path, application: app.ApplicationRepository
) -> None:
    run = _tool(venv, application.path, "report")
    assert run.returncode == ExitCode.USAGE
    assert "run it in a checkout of metrics-store-bench" in run.stderr
