"""The saved result files: where each lives, its format version, and the checks made when one is loaded.

In a checkout (an editable install) every default path resolves from the repository root, never from the
current folder, so a command run from anywhere reads and writes the same files. Installed (`pip install` of
the repository: metrics_store_bench/__init__.py), the code is a copy without results/, and the defaults are
under `.metrics-store-bench/` in the current folder instead: the application's repository, where the tool runs.
"""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyperf

from bench.errors import UsageError

REPO_ROOT: Final = Path(__file__).resolve().parents[2]  # a checkout, or its copy beneath metrics_store_bench
# pip install put this code beneath the package metrics_store_bench, in _lib/ (the console script's doing).
INSTALLED: Final = REPO_ROOT.name == "_lib" and (REPO_ROOT.parent / "__init__.py").is_file()
WORKSPACE_NAME: Final = ".metrics-store-bench"
PYPROJECT: Final = REPO_ROOT / "pyproject.toml"
# The committed runs, baselines and reports; installed, what the tool writes in the folder it runs in.
RESULTS: Final = Path.cwd() / WORKSPACE_NAME if INSTALLED else REPO_ROOT / "results"
LATEST: Final = RESULTS / "latest"  # the last run of the main job (git-ignored)
BENCHMARK_SUITE: Final = REPO_ROOT / "bench" / "test_storage.py"  # the pytest-benchmark suite
TESTS: Final = REPO_ROOT / "tests"


@dataclass(frozen=True)
class SavedFile:
    """One kind of saved JSON file: its default path and the format version this harness reads and writes."""

    what: str
    path: Path
    format: int | None  # None: a file another tool writes (pyperf, pytest-benchmark, a junit report)
    made_by: str = ""  # the command that writes it, named when the file is missing

    def load(self, path: Path | None = None) -> dict[str, Any]:
        """The document at path (default: its own); a UsageError if absent, unparsable or of another format."""
        where = path or self.path
        try:
            document = json.loads(where.read_text())
        except FileNotFoundError as e:
            raise UsageError(f"no {self.what} at {where}" + (f": run `{self.made_by}`" if self.made_by else "")) from e
        except (OSError, ValueError) as e:
            raise UsageError(f"{where} is not a readable {self.what} ({e})") from e
        if not isinstance(document, dict):
            raise UsageError(f"{where} is not a {self.what}: its top level is a {type(document).__name__}")
        if self.format is not None and document.get("format") != self.format:
            found = document.get("format")
            raise UsageError(f"{where} has format {found!r}; this harness reads {self.what} format {self.format}")
        return document


GATE: Final = RESULTS / "gate"
INSTRUCTIONS: Final = RESULTS / "instructions"
SAVED_RATIOS: Final = SavedFile("saved-ratios file", GATE / "saved_ratios.json", 1, "nox -s rebaseline")
SAVED_COUNTS: Final = SavedFile(
    "saved instruction counts", INSTRUCTIONS / "saved_counts.json", 1, "python -m bench instructions --save"
)
COUNT_CALIBRATION: Final = SavedFile("instruction-count calibration", INSTRUCTIONS / "calibration.json", None)
SAVED_RATIO_CALIBRATION: Final = SavedFile("saved-ratio gate calibration", GATE / "calibration.json", None)
AGAINST_CALIBRATION: Final = SavedFile("--against gate calibration", GATE / "against_calibration.json", None)
HISTORY_POINT: Final = SavedFile("history point", RESULTS / "history", 1)  # a folder of <sha12>-<machine10>.json
EQUIVALENCE: Final = SavedFile("equivalence record", RESULTS / "equivalence.json", None)
FLOORS: Final = SavedFile("floors run (pyperf)", RESULTS / "floors.json", None)
FSYNC: Final = SavedFile("fsync run (pyperf)", RESULTS / "reliability" / "pyperf-fsync", None)
RELIABILITY_JUNIT: Final = SavedFile("reliability junit report", RESULTS / "reliability" / "junit.xml", None)

PYTEST_BENCHMARK_RUN: Final = SavedFile("pytest-benchmark run", RESULTS / "pytest-benchmark", None)

REPORT: Final = RESULTS / "REPORT.md"
GATE_REPORT: Final = RESULTS / "GATE.md"
RELIABILITY_REPORT: Final = RESULTS / "RELIABILITY.md"
MUTATION_REPORT: Final = RESULTS / "MUTATION.md"


def shown(path: Path) -> str:
    """A path as reports and messages name it: from the repository root when it lies inside it."""
    path = Path(path)
    return str(path.relative_to(REPO_ROOT)) if path.is_absolute() and path.is_relative_to(REPO_ROOT) else str(path)


def require_checkout(command: str | None = None) -> Path:
    """The repository root, or a UsageError when the harness is imported from somewhere that is not a checkout.

    With `command`, also when the code is installed: that command reads or rewrites the committed results.
    """
    if not (PYPROJECT.is_file() and BENCHMARK_SUITE.is_file() and (REPO_ROOT / "storage").is_dir()):
        raise UsageError(
            f"bench is imported from {REPO_ROOT}, which is not a checkout of this repository: "
            "install it editable (pip install -e .) from a clone"
        )
    if command is not None and INSTALLED:
        raise UsageError(
            f"{command} reads or rewrites this repository's committed results: run it in a checkout of "
            "metrics-store-bench (git clone, then pip install -e '.[bench]'), not from the installed tool"
        )
    return REPO_ROOT


# --- the suites' own files: pyperf's and pytest-benchmark's formats ------------------------------------


@dataclass(frozen=True)
class Measured:
    """One case of one candidate in one tool's results."""

    median: float  # seconds per call
    process_medians: tuple[float, ...]  # pyperf: one per worker process, in run order; pytest-benchmark: none
    peak_memory: int | None
    bench_run: str | None


Results = dict[str, dict[str, Measured]]  # candidate label -> case name -> measurement


def read_pyperf(path: Path) -> pyperf.BenchmarkSuite:
    """A pyperf file; a UsageError naming it when it is absent or not one."""
    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except FileNotFoundError as e:
        raise UsageError(f"no pyperf file at {path}") from e
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"{path} is not a readable pyperf file ({type(e).__name__}: {e})") from e


def pyperf_metadata(path: Path) -> dict[str, Any]:
    """The metadata common to a pyperf file's benchmarks."""
    return dict(read_pyperf(path).get_metadata())


def load_pyperf(path: Path) -> dict[str, Measured]:
    """Every benchmark of one candidate's pyperf file; calibration-only runs are left out."""
    measured = {}
    for bench in read_pyperf(path):
        runs = [run for run in bench.get_runs() if run.values]
        if not runs:
            raise ValueError(f"{path}: benchmark {bench.get_name()!r} has no values")
        peaks = [run.get_metadata().get("peak_memory_bytes") for run in runs]
        known_peaks = [peak for peak in peaks if peak is not None]
        measured[bench.get_name()] = Measured(
            median=bench.median(),
            process_medians=tuple(statistics.median(run.values) for run in runs),
            peak_memory=round(statistics.median(known_peaks)) if known_peaks else None,
            bench_run=bench.get_metadata().get("bench_run"),
        )
    return measured


def read_pytest_benchmark(path: Path) -> dict[str, Any]:
    """A saved pytest-benchmark run; a UsageError naming it when it is absent or not one."""
    document = PYTEST_BENCHMARK_RUN.load(path)
    if not isinstance(document.get("benchmarks"), list) or "datetime" not in document:
        raise UsageError(f"{path} is not a pytest-benchmark run (no benchmarks and datetime)")
    return document


def load_pytest_benchmark(path: Path) -> Results:
    """One saved pytest-benchmark file (--benchmark-save or --benchmark-json), by candidate and case."""
    results: Results = {}
    try:
        for bench in read_pytest_benchmark(path)["benchmarks"]:
            info = bench["extra_info"]
            results.setdefault(info["candidate"], {})[bench["group"]] = Measured(
                median=bench["stats"]["median"],
                process_medians=(),
                peak_memory=info.get("peak_memory_bytes"),
                bench_run=info.get("bench_run"),
            )
    except (KeyError, TypeError) as e:
        raise UsageError(f"{path}: a benchmark without its {e} (not this harness's pytest-benchmark run)") from e
    return results


def latest_pytest_benchmark(folder: Path) -> Path | None:
    """The newest run saved in a --benchmark-storage folder (any machine), by its own timestamp."""
    saved = list(folder.glob("*/[0-9][0-9][0-9][0-9]_*.json"))
    return max(saved, key=lambda path: read_pytest_benchmark(path)["datetime"], default=None)


def write_json_atomically(path: Path, document: Any, **dumps: Any) -> None:
    """Written to a temporary file beside it and renamed into place: an interrupt leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(document, indent=2, **dumps) + "\n")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
