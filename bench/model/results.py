"""The saved result files: where each lives, its format version, and the checks made when one is loaded.

In a checkout (an editable install) every default path resolves from the repository root, never from the
current folder, so a command run from anywhere reads and writes the same files. Installed (`pip install` of
the repository: metrics_store_bench/__init__.py), the code is a copy without results/, and the defaults are
under `.metrics-store-bench/` in the current folder instead: the application's repository, where the tool runs.
"""

from __future__ import annotations

import functools
import glob
import json
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from bench.errors import UsageError

if TYPE_CHECKING:
    import pyperf

REPO_ROOT: Final = Path(__file__).resolve().parents[2]  # a checkout, or its copy beneath metrics_store_bench
# pip install put this code beneath the package metrics_store_bench, in _lib/ (the console script's doing).
INSTALLED: Final = REPO_ROOT.name == "_lib" and (REPO_ROOT.parent / "__init__.py").is_file()
WORKSPACE_NAME: Final = ".metrics-store-bench"
PYPROJECT: Final = REPO_ROOT / "pyproject.toml"
# The committed runs, baselines and reports; installed, what the tool writes in the folder it runs in.
RESULTS: Final = Path.cwd() / WORKSPACE_NAME if INSTALLED else REPO_ROOT / "results"
COMMAND: Final = "metrics-store-bench" if INSTALLED else "python -m bench"  # as the user types it, in hints
LATEST: Final = RESULTS / "latest"  # the last run of the main job (git-ignored)
BENCHMARK_SUITE: Final = REPO_ROOT / "bench" / "test_storage.py"  # the pytest-benchmark suite
TESTS: Final = REPO_ROOT / "tests"


@dataclass(frozen=True)
class SavedFile:
    """One kind of saved JSON file: its default path, the format version this harness reads and writes, and the JSON
    Schema (schemas/saved/, draft 7) of what the harness reads from it: a file that breaks it is refused at load,
    naming the file and the place, before any code indexes into it."""

    what: str
    path: Path
    format: int | None  # None: a file another tool writes (pyperf, pytest-benchmark, a junit report)
    made_by: str = ""  # the command that writes it, named when the file is missing
    schema: str | None = None  # a file name under schemas/saved/

    def load(self, path: Path | None = None) -> dict[str, Any]:
        """The document at path (default: its own); a UsageError if absent, unparsable, of another format, or not
        of its schema."""
        where = path or self.path
        try:
            document = json.loads(where.read_bytes(), parse_constant=_refuse_constant)
        except FileNotFoundError as e:
            raise UsageError(f"no {self.what} at {where}" + (f": run `{self.made_by}`" if self.made_by else "")) from e
        except (OSError, ValueError, RecursionError) as e:  # RecursionError: nesting deeper than any file we write
            raise UsageError(f"{where} is not a readable {self.what} ({type(e).__name__}: {str(e)[:200]})") from e
        if not isinstance(document, dict):
            raise UsageError(f"{where} is not a {self.what}: its top level is a {type(document).__name__}")
        if self.format is not None and document.get("format") != self.format:
            found = document.get("format")
            raise UsageError(f"{where} has format {found!r}; this harness reads {self.what} format {self.format}")
        if self.schema is not None:
            check_schema(document, self.schema, f"{where} is not a {self.what}")
        return document


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number this harness writes")


def check_schema(document: Any, schema: str, failure: str) -> None:
    """A UsageError beginning with `failure` and naming the first place where document breaks schema."""
    import fastjsonschema  # here, not at the top: the counting workers import this module and never need it

    try:
        _validator(schema)(document)
    except fastjsonschema.JsonSchemaValueException as e:
        raise UsageError(f"{failure}: {e.message[:200]}") from e


@functools.cache
def _validator(schema: str) -> Callable[[Any], Any]:
    """The schema compiled to Python (fastjsonschema): 15 times as fast as jsonschema's validator, which made
    loading a 4,000-point history take 1.5 s."""
    import fastjsonschema

    compiled: Callable[[Any], Any] = fastjsonschema.compile(
        json.loads((REPO_ROOT / "schemas" / "saved" / schema).read_text())
    )
    return compiled


GATE: Final = RESULTS / "gate"
INSTRUCTIONS: Final = RESULTS / "instructions"
SAVED_RATIOS: Final = SavedFile(
    "saved-ratios file", GATE / "saved_ratios.json", 1, "nox -s rebaseline", "saved-ratios.v1.schema.json"
)
SAVED_COUNTS: Final = SavedFile(
    "saved instruction counts",
    INSTRUCTIONS / "saved_counts.json",
    1,
    "python -m bench instructions --save",
    "saved-counts.v1.schema.json",
)
COUNT_CALIBRATION: Final = SavedFile("instruction-count calibration", INSTRUCTIONS / "calibration.json", None)
SAVED_RATIO_CALIBRATION: Final = SavedFile("saved-ratio gate calibration", GATE / "calibration.json", None)
AGAINST_CALIBRATION: Final = SavedFile(
    "--against gate calibration", GATE / "against_calibration.json", None, schema="against-calibration.schema.json"
)
MUTATION_QUICK: Final = SavedFile("quick answer pass's mutation verdicts", GATE / "mutation_quick.json", None)
# A folder of <sha12>-<machine10>.json
HISTORY_POINT: Final = SavedFile("history point", RESULTS / "history", 2, schema="history-point.v2.schema.json")
EQUIVALENCE: Final = SavedFile(
    "equivalence record", RESULTS / "equivalence.json", None, schema="equivalence.schema.json"
)
MECHANISMS: Final = SavedFile(
    "calls that reach the system, per store",
    RESULTS / "mechanisms.json",
    1,
    "python -m bench",
    "mechanisms.v1.schema.json",
)
FLOORS: Final = SavedFile("floors run (pyperf)", RESULTS / "floors.json", None)
FSYNC: Final = SavedFile("fsync run (pyperf)", RESULTS / "reliability" / "pyperf-fsync", None)
RELIABILITY_JUNIT: Final = SavedFile("reliability junit report", RESULTS / "reliability" / "junit.xml", None)

PYTEST_BENCHMARK_RUN: Final = SavedFile(
    "pytest-benchmark run", RESULTS / "pytest-benchmark", None, schema="pytest-benchmark-run.schema.json"
)

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
    # Imported here, not at the top: every timed and counted worker process imports this module, and pyperf's
    # import is half of what a counted worker runs under callgrind (some 220 million of 440 million instructions).
    import pyperf

    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except FileNotFoundError as e:
        raise UsageError(f"no pyperf file at {path}") from e
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as e:
        raise UsageError(f"{path} is not a readable pyperf file ({type(e).__name__}: {str(e)[:200]})") from e


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
    """JSON through write_atomically."""
    write_atomically(path, lambda temporary: temporary.write_text(json.dumps(document, indent=2, **dumps) + "\n"))


def write_text_atomically(path: Path, text: str) -> None:
    write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """`write` fills a temporary file beside path, which is then renamed into place: a reader sees the old file or
    the new one, never half of one, whatever kills the writer. A temporary that a killed writer left (its process
    gone) is removed here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    for left in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = left.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and not _alive(int(pid)):
            left.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
