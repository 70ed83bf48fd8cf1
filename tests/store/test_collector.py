"""LatencyCollector exactly as ../shared/spec/original-behaviour.md describes it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from storage.latency import LatencyCollector, LatencyMeasurement


def _measurement(metric_type: str, duration: float, sat: str = "SAT-1") -> LatencyMeasurement:
    return LatencyMeasurement(
        timestamp=1.5, metric_type=metric_type, satellite_id=sat, duration_ms=duration, scenario_time_s=0.0
    )


def test_record_calls_append_typed_measurements_with_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("storage.latency.time.time", lambda: 1234.5)
    c = LatencyCollector()
    c.record_fault_detection("A", 1.0, 10.0)
    c.record_agent_decision("B", 2.0, 20.0)
    c.record_recovery_action("C", 3.0, 30.0)
    assert c.measurements == [
        LatencyMeasurement(1234.5, "fault_detection", "A", 10.0, 1.0),
        LatencyMeasurement(1234.5, "agent_decision", "B", 20.0, 2.0),
        LatencyMeasurement(1234.5, "recovery_action", "C", 30.0, 3.0),
    ]
    assert len(c) == 3


SPEC_FIELDS = ("timestamp", "metric_type", "satellite_id", "duration_ms", "scenario_time_s")


def test_measurement_fields_are_in_spec_order() -> None:
    assert tuple(LatencyMeasurement.__dataclass_fields__) == SPEC_FIELDS


def test_collector_state_has_the_original_attribute_names() -> None:
    """A drop-in store reads these by name: the application's collector has exactly them."""
    collector = LatencyCollector()
    collector.record_agent_decision("SAT-1", 1.0, 2.0)
    assert set(vars(collector)) == {"measurements", "_start_time", "_measurement_log"}
    assert dict(collector._measurement_log) == {"agent_decision": 1}


def test_latency_module_defines_nothing_the_original_does_not() -> None:
    import storage.latency as latency

    public = {name for name in vars(latency) if not name.startswith("_")}
    imported = {"annotations", "csv", "time", "defaultdict", "asdict", "dataclass", "Path", "Any"}
    assert public - imported == {"LatencyMeasurement", "LatencyCollector"}


def test_stats_of_empty_collector_is_empty_dict() -> None:
    assert LatencyCollector().get_stats() == {}
    assert LatencyCollector().get_stats_by_satellite() == {}


def test_stats_keys_and_percentile_indices() -> None:
    c = LatencyCollector()
    for value in reversed(range(100)):  # recorded unsorted
        c.record_fault_detection("S", 0.0, float(value))
    stats = c.get_stats()["fault_detection"]
    assert list(stats) == ["count", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms", "min_ms"]
    assert stats == {
        "count": 100,
        "mean_ms": 49.5,
        "p50_ms": 50.0,  # s[n // 2]
        "p95_ms": 95.0,  # s[int(n * 0.95)]
        "p99_ms": 99.0,  # s[int(n * 0.99)]
        "max_ms": 99.0,
        "min_ms": 0.0,
    }


def test_mean_sums_in_recording_order_not_sorted_order() -> None:
    c = LatencyCollector()
    c.measurements += [_measurement("t", 1e16), _measurement("t", -1e16), _measurement("t", 1.0)]
    # recording order: (1e16 - 1e16) + 1 = 1; sorted order would give (-1e16 + 1) + 1e16 = 0
    assert c.get_stats()["t"]["mean_ms"] == 1.0 / 3


def test_max_and_min_keep_the_first_of_equal_values() -> None:
    c = LatencyCollector()
    c.measurements += [_measurement("t", 0.0), _measurement("t", -0.0)]
    stats = c.get_stats()["t"]
    assert math.copysign(1, stats["max_ms"]) == 1.0
    assert math.copysign(1, stats["min_ms"]) == 1.0


def test_types_are_grouped_in_first_seen_order() -> None:
    c = LatencyCollector()
    c.record_recovery_action("S", 0, 1.0)
    c.record_fault_detection("S", 0, 2.0)
    c.record_recovery_action("S", 0, 3.0)
    assert list(c.get_stats()) == ["recovery_action", "fault_detection"]


def test_stats_by_satellite_groups_satellite_then_type_without_p99_or_min() -> None:
    c = LatencyCollector()
    c.record_agent_decision("B", 0, 4.0)
    c.record_fault_detection("A", 0, 1.0)
    c.record_agent_decision("A", 0, 2.0)
    c.record_fault_detection("A", 0, 3.0)
    by_sat = c.get_stats_by_satellite()
    assert list(by_sat) == ["B", "A"]
    assert list(by_sat["A"]) == ["fault_detection", "agent_decision"]
    assert by_sat["A"]["fault_detection"] == {"count": 2, "mean_ms": 2.0, "p50_ms": 3.0, "p95_ms": 3.0, "max_ms": 3.0}


def test_summary_of_empty_collector() -> None:
    assert LatencyCollector().get_summary() == {"total_measurements": 0, "metrics": {}}


def test_summary_counts_record_calls_not_direct_appends() -> None:
    c = LatencyCollector()
    c.record_fault_detection("S", 0, 1.0)
    c.record_fault_detection("S", 0, 2.0)
    c.measurements.append(_measurement("agent_decision", 5.0))
    summary = c.get_summary()
    assert list(summary) == ["total_measurements", "measurement_types", "stats", "stats_by_satellite"]
    assert summary["total_measurements"] == 3
    assert summary["measurement_types"] == {"fault_detection": 2}
    assert set(summary["stats"]) == {"fault_detection", "agent_decision"}


def test_export_csv_creates_folders_and_writes_str_of_values(tmp_path: Path) -> None:
    c = LatencyCollector()
    c.measurements += [
        LatencyMeasurement(1.0, "a,b", 'sat "1"', 0.1, 7),
        LatencyMeasurement(2.5, "x\ny", "s", float("nan"), -0.0),
    ]
    target = tmp_path / "deep" / "er" / "raw.csv"
    c.export_csv(str(target))
    assert target.read_bytes() == (
        b"timestamp,metric_type,satellite_id,duration_ms,scenario_time_s\r\n"
        b'1.0,"a,b","sat ""1""",0.1,7\r\n'
        b'2.5,"x\ny",s,nan,-0.0\r\n'
    )


def test_reset_clears_measurements_and_counts() -> None:
    c = LatencyCollector()
    c.record_fault_detection("S", 0, 1.0)
    c.reset()
    assert len(c) == 0
    assert c.get_summary() == {"total_measurements": 0, "metrics": {}}
    c.measurements.append(_measurement("t", 1.0))
    assert c.get_summary()["measurement_types"] == {}
