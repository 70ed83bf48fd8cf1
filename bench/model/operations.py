"""The one table of benchmarked operations, read by both suites and by the CI gate.

A row says how to set an operation up for a candidate (untimed), what the timed call is, and how
to check its answer. prepare() checks the answer before anything is timed, so no suite can time an
error path: the proposal's own benchmark timed compare_runs' "Could not load metrics" and never knew.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from time import perf_counter
from typing import Any, Final

from bench.errors import UsageError
from bench.model import progress
from bench.model.fixtures import (
    COLLECTOR_SIZES,
    LARGE_COLLECTOR_SIZES,
    LARGE_TREE_SIZES,
    SUMMARY_NAME,
    TREE_SIZES,
    Fixtures,
)
from storage import MetricsStoreClass, collector_class_for

# The stores' default results_dir, relative to each case's working directory: the baseline's
# compare_runs looks the other run up there whatever the store's own results_dir, so every
# candidate is given this one and both saved runs are installed under it.
RESULTS_DIR: Final = "astraguard/hil/results"
METRIC_TYPES: Final = frozenset({"fault_detection", "agent_decision", "recovery_action"})
RECENT_LIMIT: Final = 10
# No operation may peak higher (tracemalloc, one call) than the baseline's.
MEMORY_TARGET_RATIO: Final = 1.0


class AnswerCheckError(AssertionError):
    """An operation answered something other than its real result: an error dict, a short list, no file."""


@dataclass(frozen=True)
class Subject:
    """An operation set up for one candidate: the timed call, and the untimed refresh each call needs, if any."""

    call: Callable[[], Any]
    refresh: Callable[[], None] | None = None


@dataclass(frozen=True)
class Operation:
    """One row of the table. Setup runs in the case's working directory; targets are optimized vs baseline."""

    name: str
    sizes: tuple[int, ...]
    quick_sizes: tuple[int, ...]
    builds: Callable[[Fixtures, int], object] | None  # the cached fixture setup reads, built ahead with progress
    setup: Callable[[MetricsStoreClass, int, Fixtures], Subject]
    check: Callable[[Any, Case], None]
    target_speedups: Mapping[int, float]
    large_sizes: tuple[int, ...] = ()  # added by --sizes large; no target of their own
    method: str = ""  # the store's method it times, where not its name (the cold and warm reads time one method)

    @property
    def store_method(self) -> str:
        """The store method whose answers this operation's speed is worth something only with."""
        return self.method or self.name


@dataclass(frozen=True)
class Case:
    """One operation at one size for one candidate, set up in its own working directory and checked."""

    operation: Operation
    size: int
    store_class: MetricsStoreClass
    workdir: Path
    fixtures: Fixtures
    subject: Subject

    @property
    def name(self) -> str:
        return case_name(self.operation, self.size)

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """In the case's working directory, where its relative results_dir lives."""
        with contextlib.chdir(self.workdir):
            yield

    def call_once(self) -> Any:
        """One call as the timer makes it (refreshed first if the operation needs it), untimed."""
        with self.entered():
            if self.subject.refresh is not None:
                self.subject.refresh()
            return self.subject.call()

    def time(self, loops: int) -> float:
        """Seconds spent in `loops` calls, refreshes excluded: pyperf's bench_time_func shape."""
        call, refresh = self.subject.call, self.subject.refresh
        with self.entered():
            if refresh is None:
                started = perf_counter()
                for _ in range(loops):
                    call()
                return perf_counter() - started
            elapsed = 0.0
            for _ in range(loops):
                refresh()
                started = perf_counter()
                call()
                elapsed += perf_counter() - started
            return elapsed

    def peak_memory(self) -> int:
        """Bytes allocated at the peak of one call, above what was allocated before it (tracemalloc).

        Measured after a full collection: garbage left by earlier calls, freed inside the measured call,
        would otherwise hide part of its allocations, by an amount that depends on the GC's counters.
        """
        with self.entered():
            if self.subject.refresh is not None:
                self.subject.refresh()
            gc.collect()
            started_here = not tracemalloc.is_tracing()
            if started_here:
                tracemalloc.start()
            try:
                tracemalloc.reset_peak()
                before = tracemalloc.get_traced_memory()[0]
                self.subject.call()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                if started_here:
                    tracemalloc.stop()
        return peak - before


def case_name(operation: Operation, size: int) -> str:
    """The one naming scheme: pyperf benchmark names and pytest-benchmark groups are both "operation[size]"."""
    return f"{operation.name}[{size}]"


def prepare(operation: Operation, size: int, store_class: MetricsStoreClass, workdir: Path, fixtures: Fixtures) -> Case:
    """Sets the operation up in `workdir` (an empty folder the case owns) and checks one answer: ready to time."""
    case = set_up(operation, size, store_class, workdir, fixtures)
    check(case)
    return case


def set_up(operation: Operation, size: int, store_class: MetricsStoreClass, workdir: Path, fixtures: Fixtures) -> Case:
    """prepare()'s first half, its answer not checked yet: a worker that times several stores sets all of them up,
    then checks each (the saved runs' settling wait is one for all)."""
    with contextlib.chdir(workdir):
        subject = operation.setup(store_class, size, fixtures)
    return Case(operation, size, store_class, workdir, fixtures, subject)


def check(case: Case) -> None:
    """prepare()'s second half: once the installed files are old enough to be cached, one answer checked."""
    case.fixtures.wait_for_cacheable()
    case.operation.check(case.call_once(), case)


def _expect(condition: bool, case: Case, what: str, answer: Any) -> None:
    if not condition:
        shown = repr(answer)
        if len(shown) > 300:
            shown = shown[:300] + "..."
        raise AnswerCheckError(f"{case.name} with {case.store_class.__module__}: {what}; got {shown}")


# --- save_latency_stats ----------------------------------------------------------------------------


def _setup_save(store_class: MetricsStoreClass, size: int, fixtures: Fixtures) -> Subject:
    store = store_class("bench_save", results_dir=RESULTS_DIR)
    # Built with the store's own collector class: a fast path keyed to it is what gets timed.
    return Subject(partial(store.save_latency_stats, fixtures.collector(size, collector_class_for(store_class))))


def _check_saved(answer: Any, case: Case) -> None:
    _expect(isinstance(answer, dict) and set(answer) == {"summary", "raw"}, case, "no summary/raw paths", answer)
    with case.entered():
        written = [Path(answer["summary"]).is_file(), Path(answer["raw"]).is_file()]
        _expect(all(written), case, "paths of files that were not written", answer)
        summary = json.loads(Path(answer["summary"]).read_text())
        with open(answer["raw"], newline="") as raw:
            rows = sum(1 for _ in raw)
    _expect(summary.get("total_measurements") == case.size, case, "summary of another collector", summary)
    _expect(rows == case.size + 1, case, f"CSV of {rows} lines, not header + {case.size}", answer)


# --- get_run_metrics, cold and warm ---------------------------------------------------------------


class _ColdRead:
    """Each round swaps the other of two versions of the summary into place and builds a fresh store.

    The swap is three renames: the file read is another inode with a new ctime, as after a rewrite,
    so no cache keyed on the path or its stat can serve it. Writing the bytes anew each round cost
    5 to 15 times the read itself here (ext4 flushes a file renamed over another), all of it untimed
    but paid for in wall time by every pyperf value.
    """

    # Same length, so every round parses the same number of bytes.
    STAMPS: Final = ("2026-01-02T03:04:05.000000", "2026-01-02T03:04:05.000001")

    def __init__(self, store_class: MetricsStoreClass, run_id: str) -> None:
        self._store_class = store_class
        self._run_id = run_id
        self._summary = Path(RESULTS_DIR, run_id, SUMMARY_NAME)
        self._spare = self._summary.with_name(f".{SUMMARY_NAME}.spare")
        self._parked = self._summary.with_name(f".{SUMMARY_NAME}.parked")
        saved = json.loads(self._summary.read_text())
        # The baseline's own serialisation, so the bytes differ from the saved file only in the timestamp.
        first, second = (json.dumps({**saved, "timestamp": stamp}, indent=2, default=str) for stamp in self.STAMPS)
        self._spare.write_text(first)  # the first refresh swaps this one in
        self._summary.write_text(second)
        self._store: Any = None

    def refresh(self) -> None:
        os.replace(self._summary, self._parked)
        os.replace(self._spare, self._summary)
        os.replace(self._parked, self._spare)
        self._store = self._store_class(self._run_id, results_dir=RESULTS_DIR)

    def call(self) -> Any:
        return self._store.get_run_metrics()

    def check_each_round_reads_its_swap(self) -> None:
        for stamp in self.STAMPS:
            self.refresh()
            answer = self.call()
            if not isinstance(answer, dict) or answer.get("timestamp") != stamp:
                raise AnswerCheckError(f"cold get_run_metrics served a stale summary: wanted {stamp!r}, got {answer!r}")


def _setup_cold_read(store_class: MetricsStoreClass, size: int, fixtures: Fixtures) -> Subject:
    run_a, _ = fixtures.install_saved_runs(size, Path(RESULTS_DIR))
    cold = _ColdRead(store_class, run_a)
    cold.check_each_round_reads_its_swap()
    return Subject(cold.call, cold.refresh)


def _setup_warm_read(store_class: MetricsStoreClass, size: int, fixtures: Fixtures) -> Subject:
    run_a, _ = fixtures.install_saved_runs(size, Path(RESULTS_DIR))
    return Subject(store_class(run_a, results_dir=RESULTS_DIR).get_run_metrics)


def _check_metrics(answer: Any, case: Case) -> None:
    _expect(isinstance(answer, dict) and "stats" in answer, case, "no saved summary", answer)
    _expect(set(answer["stats"]) == METRIC_TYPES, case, "stats of other metric types", answer)
    _expect(answer.get("total_measurements") == case.size, case, "summary of another run", answer)


# --- compare_runs --------------------------------------------------------------------------------


def _setup_compare(store_class: MetricsStoreClass, size: int, fixtures: Fixtures) -> Subject:
    run_a, run_b = fixtures.install_saved_runs(size, Path(RESULTS_DIR))
    return Subject(partial(store_class(run_a, results_dir=RESULTS_DIR).compare_runs, run_b))


def _check_comparison(answer: Any, case: Case) -> None:
    _expect(isinstance(answer, dict) and "error" not in answer, case, "compare_runs' error path", answer)
    _expect(set(answer.get("metrics", ())) == METRIC_TYPES, case, "a comparison missing metric types", answer)


# --- get_recent_runs -----------------------------------------------------------------------------


def _setup_recent(store_class: MetricsStoreClass, size: int, fixtures: Fixtures) -> Subject:
    return Subject(partial(store_class.get_recent_runs, str(fixtures.result_tree(size)), RECENT_LIMIT))


def _check_recent(answer: Any, case: Case) -> None:
    _expect(isinstance(answer, list) and len(set(answer)) == RECENT_LIMIT, case, f"not {RECENT_LIMIT} names", answer)
    root = case.fixtures.result_tree(case.size)
    runs = [name for name in answer if isinstance(name, str) and (root / name / SUMMARY_NAME).is_file()]
    _expect(len(runs) == RECENT_LIMIT, case, "names that are not runs with a summary", answer)


OPERATIONS: Final[tuple[Operation, ...]] = (
    Operation(
        "save_latency_stats",
        COLLECTOR_SIZES,
        (1_000,),
        None,
        _setup_save,
        _check_saved,
        dict.fromkeys(COLLECTOR_SIZES, 4.0),
        LARGE_COLLECTOR_SIZES,
    ),
    Operation(
        "get_run_metrics_cold",
        (5_000,),
        (5_000,),
        Fixtures.saved_runs,
        _setup_cold_read,
        _check_metrics,
        {},
        method="get_run_metrics",
    ),
    Operation(
        "get_run_metrics_warm",
        (5_000,),
        (5_000,),
        Fixtures.saved_runs,
        _setup_warm_read,
        _check_metrics,
        {5_000: 5.0},
        method="get_run_metrics",
    ),
    Operation("compare_runs", (5_000,), (5_000,), Fixtures.saved_runs, _setup_compare, _check_comparison, {5_000: 4.0}),
    Operation(
        "get_recent_runs",
        TREE_SIZES,
        (1_000,),
        Fixtures.result_tree,
        _setup_recent,
        _check_recent,
        {100: 4.0, 1_000: 6.0, 10_000: 6.0},
        LARGE_TREE_SIZES,
    ),
)


def cases(quick: bool = False, large: bool = False) -> list[tuple[Operation, int]]:
    """Every (operation, size) of the table, in table order; `quick` keeps the quick sizes only, `large` adds
    the large ones (--sizes large)."""
    return [(op, size) for op in OPERATIONS for size in operation_sizes(op, quick, large)]


def operation_sizes(operation: Operation, quick: bool = False, large: bool = False) -> tuple[int, ...]:
    if quick:
        return operation.quick_sizes
    return operation.sizes + (operation.large_sizes if large else ())


def build_fixtures(fixtures: Fixtures, selected: list[tuple[Operation, int]]) -> None:
    """Builds (or finds in the cache) every fixture the cases read, before anything is timed."""
    building = [(op.builds, case_name(op, size), size) for op, size in selected if op.builds is not None]
    with progress.task("fixtures", len(building)) as step:
        for builds, name, size in building:
            step(name)
            builds(fixtures, size)


def find_case(name: str) -> tuple[Operation, int]:
    """The (operation, size) called "operation[size]"."""
    for operation, size in cases(large=True):
        if case_name(operation, size) == name:
            return operation, size
    known = ", ".join(case_name(op, size) for op, size in cases(large=True))
    raise UsageError(f"no benchmark case {name!r}: one of {known}")
