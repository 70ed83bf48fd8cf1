"""The proposal's claims of how it works, counted: calls per call of the builtins that reach the system, per store
(bench.jobs.mechanisms), judged in the report's claims section (bench.report.sections.mechanisms_section)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.jobs.mechanisms import count_mechanisms
from bench.model import results
from bench.report.inputs import SavedFile
from bench.report.sections import mechanisms_section

READ, WARM, SAVE = "get_run_metrics_cold[5000]", "get_run_metrics_warm[5000]", "save_latency_stats[5000]"


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = count_mechanisms(["baseline", "proposed"], 1, tmp_path_factory.mktemp("mechanisms") / "mechanisms.json")
    return results.MECHANISMS.load(path)  # its schema, checked


def test_the_counts_are_the_stores_calls_per_call(counted: dict) -> None:
    baseline, proposed = counted["stores"]["baseline"], counted["stores"]["proposed"]
    # The original's read: exists() (a stat), then read_text() (an open): two calls that reach the system.
    assert baseline[READ]["posix.stat"] >= 1 and baseline[READ]["io.open"] == 1
    assert baseline[WARM]["io.open"] == 1  # no cache: every read opens the file
    assert proposed[WARM].get("io.open", 0.0) == 0  # its cache: a warm read opens nothing
    threads = ("_thread.start_new_thread", "_thread.start_joinable_thread")  # 3.11's name, then 3.12's
    assert sum(baseline[SAVE].get(name, 0.0) for name in threads) == 0
    assert sum(proposed[SAVE].get(name, 0.0) for name in threads) == 2  # its JSON and its CSV, a thread each


def _section(stores: dict) -> str:
    data = {"format": 1, "seed": 1, "calls": {READ: 20}, "stores": stores}
    return mechanisms_section(SimpleNamespace(mechanisms=SavedFile(Path("mechanisms.json"), data)))  # type: ignore[arg-type]


def test_a_read_with_one_call_fewer_holds_and_one_with_as_many_does_not() -> None:
    baseline = {READ: {"posix.stat": 1.0, "io.open": 1.0}}
    fewer = _section({"baseline": baseline, "proposed": {READ: {"io.open": 1.0}}})
    assert "| 1 (posix.stat 0, io.open 1) | 2 | **holds** |" in fewer, fewer
    same = _section({"baseline": baseline, "optimized": {READ: {"posix.stat": 1.0, "io.open": 1.0}}})
    assert "| 2 (posix.stat 1, io.open 1) | 2 | **does not hold** |" in same, same
    assert "no interval" in same


def test_without_the_baselines_counts_nothing_is_judged() -> None:
    assert "holds no count of the baseline" in _section({"proposed": {READ: {"io.open": 1.0}}})
