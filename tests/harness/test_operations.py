"""prepare() refuses to time anything but the real path, and a timer times only the call."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench.model import operations
from bench.model.fixtures import Fixtures
from bench.model.operations import OPERATIONS, AnswerCheckError, Case, Subject, prepare
from storage import CANDIDATES

Baseline = CANDIDATES["baseline"]


def _operation(name: str) -> operations.Operation:
    return next(op for op in OPERATIONS if op.name == name)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Fixtures:
    return Fixtures(seed=11, cache=tmp_path_factory.mktemp("cache"))


class ErrorComparingStore(Baseline):
    def compare_runs(self, other_run_id: str) -> dict[str, Any]:
        return {"error": f"Could not load metrics for run {other_run_id}", "metrics": {}}


class ShortListingStore(Baseline):
    @staticmethod
    def get_recent_runs(results_dir: str = "astraguard/hil/results", limit: int = 10) -> list[str]:
        return Baseline.get_recent_runs(results_dir, limit)[:3]


class NonWritingStore(Baseline):
    def save_latency_stats(self, collector: Any) -> dict[str, str]:
        return {"summary": str(self.metrics_dir / "latency_summary.json"), "raw": str(self.metrics_dir / "x.csv")}


class StaleCachingStore(Baseline):
    _cached: Any = None

    def get_run_metrics(self) -> Any:
        if StaleCachingStore._cached is None:
            StaleCachingStore._cached = super().get_run_metrics()
        return StaleCachingStore._cached


@pytest.mark.parametrize(
    ("operation", "size", "store_class", "message"),
    [
        ("compare_runs", 5_000, ErrorComparingStore, "error path"),
        ("get_recent_runs", 100, ShortListingStore, "not 10 names"),
        ("save_latency_stats", 1_000, NonWritingStore, "not written"),
        ("get_run_metrics_cold", 5_000, StaleCachingStore, "stale summary"),
    ],
)
def test_an_answer_off_the_real_path_is_refused_before_timing(
    operation: str, size: int, store_class: type, message: str, scratch: Fixtures, tmp_path: Path
) -> None:
    with pytest.raises(AnswerCheckError, match=message):
        prepare(_operation(operation), size, store_class, tmp_path, scratch)


@pytest.mark.parametrize(("operation", "size"), [(op.name, op.quick_sizes[0]) for op in OPERATIONS])
def test_the_baseline_passes_every_check(operation: str, size: int, scratch: Fixtures, tmp_path: Path) -> None:
    case = prepare(_operation(operation), size, Baseline, tmp_path, scratch)
    assert case.time(2) > 0


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_timer_leaves_each_refresh_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scratch: Fixtures) -> None:
    clock = FakeClock()
    monkeypatch.setattr(operations, "perf_counter", clock)

    def refresh() -> None:
        clock.now += 1.0

    def call() -> None:
        clock.now += 0.001

    case = Case(OPERATIONS[0], 1, Baseline, tmp_path, scratch, Subject(call, refresh))
    assert case.time(3) == pytest.approx(0.003)


def test_peak_memory_counts_what_the_call_allocates_and_not_what_was_there(tmp_path: Path, scratch: Fixtures) -> None:
    already_there = bytearray(4_000_000)
    case = Case(OPERATIONS[0], 1, Baseline, tmp_path, scratch, Subject(lambda: bytearray(1_000_000)))
    peak = case.peak_memory()
    assert 1_000_000 <= peak < 1_100_000
    assert len(already_there) == 4_000_000


def test_sizes_large_adds_a_decade_to_the_operations_measured_at_several_sizes() -> None:
    standard = {operations.case_name(op, size) for op, size in operations.cases()}
    large = {operations.case_name(op, size) for op, size in operations.cases(large=True)}
    assert large - standard == {"save_latency_stats[100000]", "get_recent_runs[100000]"}
    assert operations.cases(quick=True, large=True) == operations.cases(quick=True)
    operation, size = operations.find_case("get_recent_runs[100000]")  # the pyperf worker finds them by name
    assert (operation.name, size) == ("get_recent_runs", 100_000)
    assert size not in operation.target_speedups  # no target of their own: the report compares them with 10k


def test_a_report_includes_the_large_sizes_where_a_run_measured_them() -> None:
    from bench.model.results import Measured
    from bench.report import build

    def measured(seconds: float) -> Measured:
        return Measured(seconds, (seconds * 0.99, seconds, seconds * 1.01), None, "run")

    sizes = (100, 1_000, 10_000, 100_000)
    data = {f"get_recent_runs[{size}]": measured(size * 1e-7) for size in sizes}

    inputs = SimpleNamespace(candidates=["optimized"], pyperf={"optimized": data})
    (curve,) = build.scaling_curves(inputs)  # type: ignore[arg-type]
    assert curve.sizes == sizes and curve.exponent == pytest.approx(1.0)


def test_a_save_of_the_largest_size_peaks_no_higher_than_the_baselines(tmp_path: Path, scratch: Fixtures) -> None:
    """The memory target holds at --sizes large too: summarise's per-type lists once lived beside the
    per-satellite ones, and 100,000 measurements peaked at 1.3x the baseline's."""
    operation, size = operations.find_case("save_latency_stats[100000]")
    peaks = {}
    for name in ("baseline", "optimized"):
        (tmp_path / name).mkdir()
        peaks[name] = prepare(operation, size, CANDIDATES[name], tmp_path / name, scratch).peak_memory()
    assert peaks["optimized"] <= peaks["baseline"], peaks
