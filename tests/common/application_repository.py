"""A git repository laid out like the application (src/astraguard/hil/metrics/storage.py beside latency.py, under
an __init__.py that imports what nobody installed), with the shapes its store's real history has, oldest first on
main: the original and its docstring rewrites; a stray src/__init__.py, packaging settings and every import form of
the collector; logging without `import logging` (answers differ), then print again; a side branch of commits that
cannot serve (async, a changed signature, conflict markers, a renamed method) merged back; collector-only commits
that change saved output, one cherry-picked first; a merged branch whose get_recent_runs stats every entry (about
twice as slow); an import nobody installed; a store whose get_run_metrics serves a stale cache. Commit dates are a
day apart.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
PACKAGE_DIR: Final = "src/astraguard/hil/metrics"
STORE: Final = f"{PACKAGE_DIR}/storage.py"
COLLECTOR: Final = f"{PACKAGE_DIR}/latency.py"
NOT_INSTALLED: Final = "astraguard_flight_dynamics"  # what the application's __init__.py imports

# What each commit's store is: "identical" or "differs in ..." answers, SLOW (identical answers, get_recent_runs
# about twice as slow: a stat per entry), or why it cannot serve. COLLECTOR_DIFFERS: the store identical, its
# collector's output not.
IDENTICAL: Final = "identical"
SLOW: Final = "slow"
STALE: Final = "differs in get_run_metrics, compare_runs"
COLLECTOR_DIFFERS: Final = "collector differs"

FROM_MODULE: Final = "from astraguard.hil.metrics.latency import LatencyCollector"
IMPORT_FORMS: Final = {
    "from-module": FROM_MODULE,
    "from-package": "from astraguard.hil.metrics import latency",
    "import-as": "import astraguard.hil.metrics.latency as latency",
    "plain-dotted": "import astraguard.hil.metrics.latency",
    "relative": "from .latency import LatencyCollector",
}
PACKAGING: Final = '[project]\nname = "astraguard"\nversion = "0.4.0"\n'
SETTINGS: Final = (
    PACKAGING
    + '\n[tool.setuptools]\npackages = ["api", "astraguard"]\n\n'
    + ('[tool.pytest.ini_options]\npythonpath = ["src"]\n')
)


def _replace(text: str, old: str, new: str) -> str:
    if old not in text:
        raise AssertionError(f"the source has no {old!r}: the frozen original changed?")
    return text.replace(old, new)


def original_store(form: str = "from-module") -> str:
    """storage/baseline.py as the application has it: importing its collector from its own package."""
    source = (REPO_ROOT / "storage" / "baseline.py").read_text()
    return _replace(source, "from typing import Any\n", f"from typing import Any\n\n{IMPORT_FORMS[form]}\n")


def _imported(source: str, form: str) -> str:
    """The store importing its collector in another form."""
    old = next(line for line in IMPORT_FORMS.values() if f"\n{line}\n" in source)
    return _replace(source, f"\n{old}\n", f"\n{IMPORT_FORMS[form]}\n")


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
        f"{_RECENT_DOC}",
    )


_RECENT_DOC: Final = (
    '        """The newest runs by name (the default results folder: relative to the working folder)."""\n'
)
_PRINT: Final = '            print(f"[ERROR] Failed to load metrics from {summary_path}: {e}")\n'
_LOG: Final = '            logging.error(f"Failed to load metrics from {summary_path}: {e}")\n'


def _documented(source: str, doc: str) -> str:
    """A docstring-only rewrite: get_recent_runs' docstring (the line after its def) says something else."""
    lines = source.splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("    def get_recent_runs(")) + 1
    if not lines[at].startswith('        """'):
        raise AssertionError("get_recent_runs has no one-line docstring to reword")
    lines[at] = f'        """{doc}"""\n'
    return "".join(lines)


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


def _conflicted(source: str) -> str:
    """A merge of two docstrings committed with git's markers in it."""
    theirs = '        """The newest runs by name; runs older than 30 days are kept."""\n'
    return _replace(source, _RECENT_DOC, f"<<<<<<< HEAD\n{_RECENT_DOC}=======\n{theirs}>>>>>>> feature/retention\n")


def _renamed_read(source: str) -> str:
    source = _replace(source, "    def get_run_metrics(self)", "    def load_run_metrics(self)")
    source = _replace(source, "other_storage.get_run_metrics()", "other_storage.load_run_metrics()")
    return _replace(source, "this_metrics = self.get_run_metrics()", "this_metrics = self.load_run_metrics()")


def _with_exporter(source: str) -> str:
    return _replace(
        source, "import json\n", "import json\n\nimport prometheus_client  # the exporter's, never installed\n"
    )


def _stats_every_folder(source: str) -> str:
    """get_recent_runs keeps the folders first, asking each entry whether it is one: a stat per entry, where the
    original stops at the tenth run found. The same answers, about twice the time."""
    return _replace(
        source,
        "        for run_dir in sorted(results_path.iterdir(), reverse=True):\n"
        '            if run_dir.is_dir() and (run_dir / "latency_summary.json").exists():\n',
        "        folders = [entry for entry in results_path.iterdir() if entry.is_dir()]\n"
        "        for run_dir in sorted(folders, reverse=True):\n"
        '            if (run_dir / "latency_summary.json").exists():\n',
    )


def _stale_cache(source: str) -> str:
    """get_run_metrics keeps what it read on the instance: fast, and stale after anyone else saves the run."""
    source = _replace(
        source,
        '        summary_path = self.metrics_dir / "latency_summary.json"\n        if not summary_path.exists():\n',
        '        if getattr(self, "_cached", None) is not None:\n            return self._cached\n'
        '        summary_path = self.metrics_dir / "latency_summary.json"\n        if not summary_path.exists():\n',
    )
    return _replace(
        source,
        "            return json.loads(summary_path.read_text())\n",
        "            self._cached = json.loads(summary_path.read_text())\n            return self._cached\n",
    )


def original_collector() -> str:
    return (REPO_ROOT / "storage" / "latency.py").read_text()


def _collector_note(source: str, n: int) -> str:
    """A comment: what the collector records is as it was."""
    return source + f"\n\n# Collector note {n}: measurements are recorded in the order they happen.\n"


def _floats(source: str) -> str:
    """Durations and times stored as floats: an int a caller passes is saved as 5.0, not 5."""
    source = _replace(
        source, "                duration_ms=duration_ms,\n", "                duration_ms=float(duration_ms),\n"
    )
    return _replace(
        source,
        "                scenario_time_s=scenario_time_s,\n",
        "                scenario_time_s=float(scenario_time_s),\n",
    )


def _validated(source: str) -> str:
    """Recording refuses an empty satellite id or a negative duration, which the original records."""
    return _replace(
        source,
        "    def _record(self, metric_type: str, sat_id: str, scenario_time_s: float, duration_ms: float) -> None:\n",
        "    def _record(self, metric_type: str, sat_id: str, scenario_time_s: float, duration_ms: float) -> None:\n"
        "        if not isinstance(sat_id, str) or not sat_id.strip():\n"
        '            raise ValueError(f"Invalid sat_id: must be non-empty string, got {sat_id!r}")\n'
        "        if not isinstance(duration_ms, int | float) or duration_ms < 0:\n"
        '            raise ValueError(f"Invalid duration: must be a non-negative number, got {duration_ms!r}")\n',
    )


@dataclass
class ApplicationRepository:
    path: Path
    commits: dict[str, str] = field(default_factory=dict)  # label -> sha
    expected: dict[str, str] = field(default_factory=dict)  # label -> IDENTICAL, SLOW, ..., or why it cannot serve
    main_line: list[str] = field(default_factory=list)  # the labels history walks, first parent first, oldest first
    _dates: dict[str, str] = field(default_factory=dict)

    def git(self, *args: str, check: bool = True) -> str:
        environment = {**os.environ, **self._dates}
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], capture_output=True, text=True, env=environment, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
        return done.stdout.strip()

    def write(self, relative: str, text: str | None) -> None:
        path = self.path / relative
        if text is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def _stamp(self) -> None:
        day = len(self.commits) + 1
        stamp = f"2026-10-{day:02d}T09:00:00+00:00"
        self._dates = {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}

    def commit(self, label: str, message: str, expected: str, *, on_main: bool = True) -> str:
        self._stamp()
        self.git("add", "-A")
        self.git("-c", "user.name=Dev", "-c", "user.email=dev@example.invalid", "commit", "-q", "-m", message)
        return self._record(label, expected, on_main)

    def merge(self, label: str, branch: str, expected: str, *, on_main: bool = True) -> str:
        self._stamp()
        user = ("-c", "user.name=Dev", "-c", "user.email=dev@example.invalid")
        self.git(*user, "merge", "-q", "--no-ff", "-X", "theirs", "-m", f"Merge branch '{branch}'", branch)
        return self._record(label, expected, on_main)

    def _record(self, label: str, expected: str, on_main: bool) -> str:
        sha = self.git("rev-parse", "HEAD")
        self.commits[label] = sha
        self.expected[label] = expected
        if on_main:
            self.main_line.append(label)
        return sha


def build(folder: Path) -> ApplicationRepository:
    """The application's repository in folder (which must be empty), with the history above committed."""
    repo = ApplicationRepository(folder)
    repo.git("init", "-q", "-b", "main")
    repo.write("pyproject.toml", PACKAGING)
    repo.write("src/astraguard/__init__.py", f"import {NOT_INSTALLED}  # a compiled extension, not installed in CI\n")
    repo.write("src/astraguard/hil/__init__.py", "")
    repo.write(f"{PACKAGE_DIR}/__init__.py", "from astraguard.hil.metrics.storage import MetricsStorage\n")
    state = {"store": original_store(), "collector": original_collector()}

    def step(
        label: str, message: str, expected: str, *, on_main: bool = True, store: str = "", collector: str = ""
    ) -> str:
        state["store"], state["collector"] = store or state["store"], collector or state["collector"]
        repo.write(STORE, state["store"])
        repo.write(COLLECTOR, state["collector"])
        return repo.commit(label, message, expected, on_main=on_main)

    step("initial", "Metrics storage and latency collector", IDENTICAL)
    step(
        "docstrings",
        "Docstrings; a note in the collector",
        IDENTICAL,
        store=_with_docstrings(state["store"]),
        collector=_collector_note(state["collector"], 1),
    )
    repo.write("src/__init__.py", "")  # stray: the package is still built top-level as astraguard
    repo.write("pyproject.toml", SETTINGS)
    step(
        "src package",
        "Package settings; import the collector module",
        IDENTICAL,
        store=_imported(state["store"], "from-package"),
    )
    step(
        "logging",
        "Log load errors instead of printing them",
        "differs in get_run_metrics, compare_runs",
        store=_replace(state["store"], _PRINT, _LOG),
    )
    sync = _imported(_replace(state["store"], _LOG, _PRINT), "import-as")
    step("print again", "Print load errors again: the runner reads stdout", IDENTICAL, store=sync)

    repo.git("checkout", "-q", "-b", "feature/async")
    step("async", "Async storage API", "coroutine function", on_main=False, store=_async(sync))
    step(
        "signature",
        "Sync API again; compare_runs takes the results folder",
        "changed signature",
        on_main=False,
        store=_signature_changed(sync),
    )
    step("conflicted", "Merge main into feature/async", "SyntaxError", on_main=False, store=_conflicted(sync))
    step(
        "renamed",
        "get_run_metrics becomes load_run_metrics",
        "has no method get_run_metrics",
        on_main=False,
        store=_renamed_read(sync),
    )
    relative = _imported(sync, "relative")
    step(
        "sync again",
        "Back to the sync API, importing the collector relatively",
        IDENTICAL,
        on_main=False,
        store=relative,
    )
    repo.git("checkout", "-q", "main")
    repo.merge("merge async", "feature/async", IDENTICAL)
    state["store"] = relative

    plain = _imported(_documented(relative, "The newest runs, by folder name."), "plain-dotted")
    step(
        "collector floats",
        "Collector: store durations as floats; reword get_recent_runs' docstring",
        COLLECTOR_DIFFERS,
        store=plain,
        collector=_floats(state["collector"]),
    )
    step(
        "collector validation",
        "Collector: validate what is recorded",
        COLLECTOR_DIFFERS,
        collector=_validated(state["collector"]),
    )

    validated = state["collector"]
    repo.git("checkout", "-q", "-b", "hotfix/collector-note")
    step(
        "hotfix note",
        "Collector: a note on ordering",
        COLLECTOR_DIFFERS,
        on_main=False,
        collector=_collector_note(validated, 2),
    )
    repo.git("checkout", "-q", "main")
    noted = _collector_note(validated, 2)
    step("collector only", "Collector: a note on ordering (cherry-picked)", COLLECTOR_DIFFERS, collector=noted)

    repo.git("checkout", "-q", "-b", "feature/listing", repo.commits["collector validation"])
    state["collector"] = validated
    slow_source = _stats_every_folder(_imported(plain, "from-module"))
    step("slower", "List recent runs faster", SLOW, on_main=False, store=slow_source)
    step(
        "listing note",
        "Say what get_recent_runs returns",
        SLOW,
        on_main=False,
        store=_documented(slow_source, "At most limit runs, newest name first."),
    )
    listing = state["store"]
    repo.git("checkout", "-q", "main")
    repo.merge("merge hotfix", "hotfix/collector-note", COLLECTOR_DIFFERS, on_main=False)  # main has it already
    repo.merge("merge listing", "feature/listing", SLOW)
    state["store"], state["collector"] = listing, noted

    repo.write("src/__init__.py", None)
    step("exporter", "Export metrics to Prometheus", "cannot be imported", store=_with_exporter(listing))
    step("no exporter", "Drop the exporter for now", SLOW, store=listing)
    step("stale cache", "Cache the run's metrics", STALE, store=_stale_cache(listing))
    return repo
