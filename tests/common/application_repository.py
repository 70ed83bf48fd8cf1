"""A git repository laid out like the application, with a history like its store's real one.

The store lives where the application keeps it, src/astraguard/hil/metrics/storage.py beside latency.py,
imports its collector absolutely, and sits in a package whose top-level __init__.py imports a module that
is not installed anywhere: a harness that ran any of the application's __init__ files could load nothing.
The history (issue 25) holds every kind of commit a store's history does, oldest first:

- the original store (storage/baseline.py with the application's import of its collector), docstrings and
  type hints, and a latency.py that changes in five commits;
- print replaced by logging without `import logging`: every error path raises NameError (answers differ),
  then print again;
- the methods made async, compare_runs still calling them without await (cannot serve: a coroutine);
- compare_runs given a required parameter (cannot serve: a changed signature);
- get_recent_runs three times as slow (a busy-wait of twice its own duration): the commit to find;
- an import of a package nobody installed (cannot serve: an error at import);
- a branch merged with its conflict markers committed (cannot serve: a SyntaxError);
- get_run_metrics renamed (cannot serve: a missing method), then restored.

Commit dates are a day apart, so every git order agrees. Nothing here imports the harness's code but the
planted slowdown's source template.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench.gate.planted import plant_slowdown_in_source

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
PACKAGE_DIR: Final = "src/astraguard/hil/metrics"
STORE: Final = f"{PACKAGE_DIR}/storage.py"
COLLECTOR: Final = f"{PACKAGE_DIR}/latency.py"
SLOWED: Final = "get_recent_runs"
NOT_INSTALLED: Final = "astraguard_flight_dynamics"  # what the application's __init__.py imports

# What each commit is, by label: "serves" (identical or differs answers), or why it cannot serve.
IDENTICAL: Final = "identical"
DIFFERS: Final = "differs"
SLOW: Final = "slow"  # the planted commit: identical answers, get_recent_runs 3x as slow


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(f"the store's source has no {old!r}: the frozen original changed?")
    return text.replace(old, new)


def original_store() -> str:
    """storage/baseline.py as the application has it: importing its collector from its own package."""
    source = (REPO_ROOT / "storage" / "baseline.py").read_text()
    return _replace(
        source,
        "from typing import Any\n",
        "from typing import Any\n\nfrom astraguard.hil.metrics.latency import LatencyCollector\n",
    )


def _with_docstrings(source: str) -> str:
    source = _replace(
        source,
        "    def get_run_metrics(self) -> dict[str, Any] | None:\n",
        '    def get_run_metrics(self) -> dict[str, Any] | None:\n        """The saved summary, or None."""\n',
    )
    return _replace(
        source,
        '    def get_recent_runs(results_dir: str = "astraguard/hil/results", limit: int = 10) -> list[str]:\n',
        '    def get_recent_runs(results_dir: str = "astraguard/hil/results", limit: int = 10) -> list[str]:\n'
        '        """The newest runs by name (the default results folder: relative to the working folder)."""\n',
    )


_PRINT: Final = '            print(f"[ERROR] Failed to load metrics from {summary_path}: {e}")\n'
_LOG: Final = '            logging.error(f"Failed to load metrics from {summary_path}: {e}")\n'


def _async(source: str) -> str:
    for method in ("save_latency_stats", "get_run_metrics", "compare_runs"):
        source = _replace(source, f"    def {method}(self", f"    async def {method}(self")
    return source


def _signature_changed(source: str) -> str:
    return _replace(
        source,
        "    def compare_runs(self, other_run_id: str) -> dict[str, Any]:\n",
        "    def compare_runs(self, other_run_id: str, results_dir: str) -> dict[str, Any]:\n",
    )


def _with_exporter(source: str) -> str:
    return _replace(
        source, "import json\n", "import json\n\nimport prometheus_client  # the exporter's, never installed\n"
    )


def _renamed_read(source: str) -> str:
    source = _replace(source, "    def get_run_metrics(self)", "    def load_run_metrics(self)")
    source = _replace(source, "other_storage.get_run_metrics()", "other_storage.load_run_metrics()")
    return _replace(source, "this_metrics = self.get_run_metrics()", "this_metrics = self.load_run_metrics()")


_RETENTION_LINE: Final = (
    '        """The newest runs by name (the default results folder: relative to the working folder)."""\n'
)


def _conflicted(ours: str, theirs: str) -> str:
    """The merge as it was committed: both versions of the one line, between git's markers."""
    ours_line = next(line for line in ours.splitlines(True) if "The newest runs" in line)
    theirs_line = next(line for line in theirs.splitlines(True) if "The newest runs" in line)
    markers = f"<<<<<<< HEAD\n{ours_line}=======\n{theirs_line}>>>>>>> feature/retention\n"
    return ours.replace(ours_line, markers)


def original_collector() -> str:
    return (REPO_ROOT / "storage" / "latency.py").read_text()


def _collector_change(source: str, n: int) -> str:
    """One of latency.py's five changes: comments and annotations that leave what it records as it was."""
    return source + f"\n\n# Collector note {n}: measurements are recorded in the order they happen.\n"


@dataclass
class ApplicationRepository:
    path: Path
    commits: dict[str, str] = field(default_factory=dict)  # label -> sha
    expected: dict[str, str] = field(default_factory=dict)  # label -> IDENTICAL, DIFFERS, SLOW, or why it cannot serve

    def git(self, *args: str, check: bool = True) -> str:
        environment = {**os.environ, **self._dates}
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=True, env=environment, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
        return done.stdout.strip()

    _dates: dict[str, str] = field(default_factory=dict)

    def write(self, relative: str, text: str) -> None:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def commit(self, label: str, message: str, expected: str, *, merge: bool = False) -> str:
        day = len(self.commits) + 1
        stamp = f"2026-10-{day:02d}T09:00:00+00:00"
        self._dates = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        self.git("add", "-A")
        self.git("-c", "user.name=Dev", "-c", "user.email=dev@example.invalid", "commit", "-q", "-m", message)
        sha = self.git("rev-parse", "HEAD")
        self.commits[label] = sha
        self.expected[label] = expected
        return sha


def build(folder: Path) -> ApplicationRepository:
    """The application's repository in folder (which must be empty), with the history above committed."""
    repo = ApplicationRepository(folder)
    repo.git("init", "-q", "-b", "main")
    repo.write("pyproject.toml", '[project]\nname = "astraguard"\nversion = "0.4.0"\n')
    repo.write("src/astraguard/__init__.py", f"import {NOT_INSTALLED}  # a compiled extension, not installed in CI\n")
    repo.write("src/astraguard/hil/__init__.py", "")
    repo.write(f"{PACKAGE_DIR}/__init__.py", "from astraguard.hil.metrics.storage import MetricsStorage\n")

    store, collector = original_store(), original_collector()

    def step(label: str, message: str, expected: str, new_store: str | None = None, new_collector: str | None = None):
        nonlocal store, collector
        store = store if new_store is None else new_store
        collector = collector if new_collector is None else new_collector
        repo.write(STORE, store)
        repo.write(COLLECTOR, collector)
        return repo.commit(label, message, expected)

    step("initial", "Metrics storage and latency collector", IDENTICAL)
    step(
        "docstrings",
        "Docstrings; type hints in the collector",
        IDENTICAL,
        _with_docstrings(store),
        _collector_change(collector, 1),
    )
    step("logging", "Log load errors instead of printing them", DIFFERS, _replace(store, _PRINT, _LOG))
    step(
        "print again",
        "Print load errors again: the runner reads stdout",
        IDENTICAL,
        _replace(store, _LOG, _PRINT),
        _collector_change(collector, 2),
    )
    sync = store
    step("async", "Async storage API", "coroutine function", _async(sync))
    step(
        "signature",
        "Sync API again; compare_runs takes the results folder",
        "changed signature",
        _signature_changed(sync),
    )
    step("restored", "compare_runs as it was", IDENTICAL, sync)
    slow = plant_slowdown_in_source(sync, SLOWED, 200)
    step("slower", "List recent runs faster", SLOW, slow)
    step("exporter", "Export metrics to Prometheus", "cannot be imported", _with_exporter(slow))
    step("no exporter", "Drop the exporter for now", IDENTICAL, slow, _collector_change(collector, 3))

    repo.git("checkout", "-q", "-b", "feature/retention")
    theirs = _replace(
        slow, _RETENTION_LINE, '        """The newest runs by name; runs older than 30 days are kept."""\n'
    )
    step("retention", "Document retention in get_recent_runs", IDENTICAL, theirs)
    repo.git("checkout", "-q", "main")
    store = slow
    ours = _replace(slow, _RETENTION_LINE, '        """The newest runs by name, at most limit of them."""\n')
    step("listing note", "Say what get_recent_runs returns", IDENTICAL, ours, _collector_change(collector, 4))
    conflicted = _conflicted(ours, theirs)
    repo.git("merge", "-q", "--no-ff", "--no-commit", "feature/retention", check=False)  # conflicts, on purpose
    repo.write(STORE, conflicted)
    store = conflicted
    repo.commit("merge", "Merge branch 'feature/retention'", "SyntaxError")
    step(
        "renamed",
        "Resolve the merge; get_run_metrics becomes load_run_metrics",
        "has no method get_run_metrics",
        _renamed_read(ours),
    )
    step("read restored", "get_run_metrics again: the dashboard calls it", IDENTICAL, ours)
    step("collector only", "Collector: a note on ordering", IDENTICAL, ours, _collector_change(collector, 5))
    return repo
