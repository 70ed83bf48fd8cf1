"""The harness where the store really lives: pip-installed into a virtualenv outside this checkout, its console
script run inside an application-shaped repository, over the application's real kinds of commits.

tests/common/application_repository.py builds the repository: the store at src/astraguard/hil/metrics/storage.py,
absolute imports, a package __init__ that imports a module nobody installed, a merge, a latency.py that changes
five times, every kind of commit that cannot serve, and get_recent_runs made three times as slow at one commit.
The gate, history, find and equivalence run there through `metrics-store-bench`, as the application's CI runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest

from bench.errors import ExitCode
from bench.history.points import load_points
from bench.model.publish import SCHEMA
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
    install = [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile", f"{REPO_ROOT}[bench]"]
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


def test_the_gate_passes_a_commit_that_left_the_store_unchanged(
    venv: Path, application: app.ApplicationRepository, tmp_path: Path
) -> None:
    tree = _checkout(application, "collector only", tmp_path)  # latency.py changed, storage.py did not
    run = _tool(venv, tree, "gate", *STORE, "--against", "HEAD~1", "--only", BENCHMARK, "--only", OTHER, *FAST)
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    verdicts = [line for line in run.stdout.splitlines() if "working tree/" in line]
    assert len(verdicts) == 2 and all(line.startswith(("UNCHANGED", "IMPROVED")) for line in verdicts), run.stdout


def test_the_gate_fails_the_planted_commit_naming_get_recent_runs(
    venv: Path, application: app.ApplicationRepository, tmp_path: Path
) -> None:
    tree = _checkout(application, "slower", tmp_path)
    summary = tmp_path / "gate.json"
    run = _tool(
        venv, tree, "gate", *STORE, "--against", "HEAD~1", "--only", BENCHMARK, "--only", OTHER, *FAST,
        "--json", str(summary),
    )  # fmt: skip
    assert run.returncode == ExitCode.FAILED, run.stdout + run.stderr
    lines = {line.split()[1].rstrip(":"): line for line in run.stdout.splitlines() if "working tree/" in line}
    assert lines[BENCHMARK].startswith("REGRESSED"), run.stdout
    assert not lines[OTHER].startswith("REGRESSED"), run.stdout
    document = json.loads(summary.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    assert document["headline"].startswith(f"1 of 2 benchmarks fails: {BENCHMARK}")
    assert document["details"]["store"] == f"{app.STORE}:MetricsStorage"


def test_the_gate_exits_1_when_the_working_trees_store_cannot_serve_and_2_when_the_references_cannot(
    venv: Path, application: app.ApplicationRepository, tmp_path: Path
) -> None:
    mine = _tool(venv, _checkout(application, "async", tmp_path), "gate", *STORE, "--against", "HEAD~1", *FAST)
    assert mine.returncode == ExitCode.FAILED, mine.stdout + mine.stderr
    assert "the working tree's src/astraguard/hil/metrics/storage.py: MetricsStorage.save_latency_stats is a " in (
        mine.stderr
    )
    theirs = _tool(venv, _checkout(application, "signature", tmp_path), "gate", *STORE, "--against", "HEAD~1", *FAST)
    assert theirs.returncode == ExitCode.USAGE, theirs.stdout + theirs.stderr
    assert f"{application.commits['async'][:12]}): {app.STORE}: MetricsStorage.save_latency_stats is a coroutine" in (
        theirs.stderr
    )


@pytest.fixture(scope="module")
def history(venv: Path, application: app.ApplicationRepository, tmp_path_factory: pytest.TempPathFactory) -> dict:
    summary = tmp_path_factory.mktemp("history") / "history.json"
    run = _tool(
        venv, application.path, "history", "--last", "20", *STORE, "--only", BENCHMARK, *FAST, "--json", str(summary)
    )
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    document = json.loads(summary.read_text())
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    return {"run": run, "document": document}


def test_history_names_the_planted_commit_as_its_one_change_point(
    application: app.ApplicationRepository, history: dict
) -> None:
    found = history["document"]["details"]["change_points"]
    assert [(cp["benchmark"], cp["commit"]) for cp in found] == [(BENCHMARK, application.commits["slower"])], history[
        "run"
    ].stdout
    step = found[0]["step"]
    assert 2.5 < step["low"] <= step["estimate"] <= step["high"] and step["estimate"] < 3.6  # three times as slow


def test_history_lists_each_skipped_commit_with_its_reason(
    application: app.ApplicationRepository, history: dict
) -> None:
    points = history["document"]["details"]["points"]
    assert {point["commit"] for point in points} == set(application.commits.values())  # the merged branch's too
    skipped = {point["commit"]: point["skipped"] for point in points if point["skipped"] is not None}
    expected = {
        application.commits[label]: why
        for label, why in application.expected.items()
        if why not in (app.IDENTICAL, app.DIFFERS, app.SLOW)
    }
    assert set(skipped) == set(expected), history["run"].stdout
    for commit, why in expected.items():
        assert why in skipped[commit] and "\n" not in skipped[commit]
        assert f"{commit[:12]} skipped: {skipped[commit]}" in history["run"].stdout


def test_history_shows_when_the_answers_changed_beside_when_the_speed_did(
    application: app.ApplicationRepository, history: dict
) -> None:
    changes = history["document"]["details"]["answer_changes"]
    assert [(c["commit"], c["before"], c["after"]) for c in changes] == [
        (application.commits["logging"], "identical", "differs in get_run_metrics, compare_runs"),
        (application.commits["print again"], "differs in get_run_metrics, compare_runs", "identical"),
    ]
    text = history["run"].stdout
    assert f"at {application.commits['logging'][:12]} Log load errors instead of printing them: identical -> " in text
    table = text.split("oldest first:\n", 1)[1]
    assert f"{application.commits['slower'][:12]} List recent runs faster" in table


def test_the_report_shows_when_the_answers_changed(application: app.ApplicationRepository, history: dict) -> None:
    points = load_points(application.path / ".metrics-store-bench" / "history")  # the installed tool's default
    section = history_section(SimpleNamespace(history=points), [])
    logging = application.commits["logging"]
    assert "Answers: 11 commits checked against the frozen original" in section, section
    assert (
        f"| `{logging[:12]}` | Log load errors instead of printing them | identical | differs in get_run_metrics"
        in section
    )


def test_find_names_the_planted_commit(venv: Path, application: app.ApplicationRepository) -> None:
    first = application.commits["initial"]
    run = _tool(venv, application.path, "find", first, "main", "--only", BENCHMARK, *STORE, *FAST)
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    assert (
        run.stdout.strip().splitlines()[-1]
        == f"first slow commit: {application.commits['slower']} List recent runs faster"
    )


def test_equivalence_judges_one_revisions_store(venv: Path, application: app.ApplicationRepository) -> None:
    logging = application.commits["logging"]
    run = _tool(venv, application.path, "equivalence", *STORE, "--profile", "quick", logging)
    assert run.returncode == ExitCode.FAILED, run.stdout + run.stderr
    assert f"at {logging[:12]}: differs in get_run_metrics, compare_runs" in run.stdout
    assert "NameError" in run.stdout


def test_a_command_for_this_repositorys_committed_results_refuses_to_run_installed(
    venv: Path, application: app.ApplicationRepository
) -> None:
    run = _tool(venv, application.path, "report")
    assert run.returncode == ExitCode.USAGE
    assert "run it in a checkout of metrics-store-bench" in run.stderr
