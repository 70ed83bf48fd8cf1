"""What the report is made of: every saved result it reads (each through bench.model.results, so a broken file is
a UsageError naming it), loaded once into Inputs, and the names the report's parts share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.errors import UsageError
from bench.history.points import Point, load_points
from bench.model import results
from bench.model.results import Results, latest_pytest_benchmark, load_pyperf
from bench.report.summary import Row, build_rows, collect
from bench.stores.candidates import BASELINE, check_control
from storage import CANDIDATES

COMMITTED: Final = results.RESULTS
REPORT_NAME: Final = "REPORT.md"
FIGURES_DIR: Final = "report"
FLOORS_FILE: Final = "floors.json"
EQUIVALENCE_FILE: Final = "equivalence.json"
SIZE_UNITS: Final = {
    "save_latency_stats": "measurements in the collector",
    "get_run_metrics_cold": "measurements in the summary",
    "get_run_metrics_warm": "measurements in the summary",
    "compare_runs": "measurements per run",
    "get_recent_runs": "run folders",
}
CLAIM_CANDIDATES: Final = ("proposed", "optimized")
DIFFERING_MARK: Final = " (for answers that differ)"
MISSING_FIGURE: Final = {
    "scaling": "no operation was measured at two sizes or more in this run (a --quick run measures one)",
    "speedups": "no candidate was measured beside the baseline in this run",
    "memory": "no peak memory was recorded in this run",
    "history": "no history points under RESULTS/history/ (python -m bench history)",
}
HISTORY_DIR: Final = "history"


@dataclass(frozen=True)
class SavedFile:
    """A results file the report read, and what it holds."""

    path: Path
    data: Any


@dataclass(frozen=True)
class Inputs:
    """Everything the report is made of, as loaded from disk."""

    results_dir: Path
    pyperf_files: dict[str, Path]
    pyperf: Results
    pytest_file: Path | None
    pytest: Results
    candidates: list[str]
    rows: list[Row]
    floors: SavedFile | None  # data: {benchmark name: Measured}
    equivalence: SavedFile | None  # data: the bench.runners.equivalence document
    left_out: list[str]  # pyperf files of another bench run than the baseline's
    fallback: Path
    history: list[Point]  # bench.changes.points's points, under RESULTS/history (else the committed ones)
    mechanisms: SavedFile | None = None  # data: bench.jobs.mechanisms' calls per call, per store and benchmark


def _candidate_order(found: Sequence[str]) -> list[str]:
    """Baseline first, then the registered stores in registry order, then outside ones by name."""
    registered = [name for name in CANDIDATES if name in found]
    return registered + sorted(name for name in found if name not in CANDIDATES)


def _find(results_dir: Path, fallback: Path, name: str) -> Path | None:
    """RESULTS/name, else fallback/name (results/): floors and verdicts are not re-measured by every run."""
    for folder in (results_dir, fallback):
        if (folder / name).is_file():
            return folder / name
    return None


def load(results_dir: Path, fallback: Path = COMMITTED) -> Inputs:
    """Reads every saved result the report uses; a UsageError when there is no baseline run."""
    pyperf_files = {path.stem: path for path in sorted((results_dir / "pyperf").glob("*.json"))}
    if BASELINE not in pyperf_files:
        raise UsageError(f"no {results_dir / 'pyperf' / BASELINE}.json: every ratio needs the baseline's run")
    pytest_file = latest_pytest_benchmark(results_dir / "pytest-benchmark")
    pyperf_results, pytest_results = collect(pyperf_files, pytest_file)
    # A file left over from an earlier run (a candidate not measured this time) has no pairs with this baseline.
    base_runs = {m.bench_run for m in pyperf_results[BASELINE].values()}
    same_run = [name for name, found in pyperf_results.items() if {m.bench_run for m in found.values()} & base_runs]
    left_out = sorted(set(pyperf_results) - set(same_run))
    pyperf_files = {name: path for name, path in pyperf_files.items() if name in same_run}
    pyperf_results = {name: pyperf_results[name] for name in same_run}
    candidates = _candidate_order(same_run)
    floors_path = _find(results_dir, fallback, FLOORS_FILE)
    equivalence_path = _find(results_dir, fallback, EQUIVALENCE_FILE)
    # Every figure is a comparison with the frozen baseline: a file measured against another is refused.
    for path in [*pyperf_files.values(), *filter(None, (floors_path,))]:
        check_control(results.pyperf_metadata(path).get("baseline_sha256"), str(path))
    equivalence = None
    if equivalence_path is not None:
        equivalence = SavedFile(equivalence_path, results.EQUIVALENCE.load(equivalence_path))
        check_control(equivalence.data.get("baseline_sha256"), str(equivalence_path))
    return Inputs(
        results_dir=results_dir,
        pyperf_files=pyperf_files,
        pyperf=pyperf_results,
        pytest_file=pytest_file,
        pytest=pytest_results,
        candidates=candidates,
        rows=build_rows(pyperf_results, pytest_results, candidates),
        floors=SavedFile(floors_path, load_pyperf(floors_path)) if floors_path else None,
        equivalence=equivalence,
        left_out=left_out,
        fallback=fallback,
        history=_history_points(results_dir, fallback),
        mechanisms=_mechanisms(results_dir, fallback),
    )


def _mechanisms(results_dir: Path, fallback: Path) -> SavedFile | None:
    path = _find(results_dir, fallback, results.MECHANISMS.path.name)
    return SavedFile(path, results.MECHANISMS.load(path)) if path is not None else None


def _history_points(results_dir: Path, fallback: Path) -> list[Point]:
    for folder in (results_dir / HISTORY_DIR, fallback / HISTORY_DIR):
        if folder.is_dir():
            return load_points(folder)
    return []
