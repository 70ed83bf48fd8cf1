"""The latency collector every candidate store is fed by, exactly as the original tool has it.

It is the application's latency.py: the attribute names (measurements, _start_time, _measurement_log)
are the original's, because a drop-in store reads them, and it defines nothing the original does not.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass
class LatencyMeasurement:
    timestamp: float
    metric_type: str
    satellite_id: str
    duration_ms: float
    scenario_time_s: float


class LatencyCollector:
    """Records latency measurements during a run and summarises them."""

    def __init__(self) -> None:
        self.measurements: list[LatencyMeasurement] = []
        self._start_time = time.time()
        # Counts record_* calls, not list entries: a direct append is not counted.
        self._measurement_log: defaultdict[str, int] = defaultdict(int)

    def _record(self, metric_type: str, sat_id: str, scenario_time_s: float, duration_ms: float) -> None:
        self.measurements.append(
            LatencyMeasurement(
                timestamp=time.time(),
                metric_type=metric_type,
                satellite_id=sat_id,
                duration_ms=duration_ms,
                scenario_time_s=scenario_time_s,
            )
        )
        self._measurement_log[metric_type] += 1

    def record_fault_detection(self, sat_id: str, scenario_time_s: float, detection_delay_ms: float) -> None:
        self._record("fault_detection", sat_id, scenario_time_s, detection_delay_ms)

    def record_agent_decision(self, sat_id: str, scenario_time_s: float, decision_time_ms: float) -> None:
        self._record("agent_decision", sat_id, scenario_time_s, decision_time_ms)

    def record_recovery_action(self, sat_id: str, scenario_time_s: float, action_time_ms: float) -> None:
        self._record("recovery_action", sat_id, scenario_time_s, action_time_ms)

    def get_stats(self) -> dict[str, dict[str, Any]]:
        if not self.measurements:
            return {}
        by_type: defaultdict[Any, list[Any]] = defaultdict(list)
        for m in self.measurements:
            by_type[m.metric_type].append(m.duration_ms)
        stats = {}
        for metric_type, durations in by_type.items():
            s = sorted(durations)
            n = len(s)
            stats[metric_type] = {
                "count": n,
                "mean_ms": sum(durations) / n,
                "p50_ms": s[n // 2],
                "p95_ms": s[int(n * 0.95)],
                "p99_ms": s[int(n * 0.99)],
                "max_ms": max(durations),
                "min_ms": min(durations),
            }
        return stats

    def get_stats_by_satellite(self) -> dict[str, dict[str, dict[str, Any]]]:
        if not self.measurements:
            return {}
        by_sat: defaultdict[Any, defaultdict[Any, list[Any]]] = defaultdict(lambda: defaultdict(list))
        for m in self.measurements:
            by_sat[m.satellite_id][m.metric_type].append(m.duration_ms)
        result: dict[Any, dict[Any, dict[str, Any]]] = {}
        for sat_id, by_type in by_sat.items():
            result[sat_id] = {}
            for metric_type, durations in by_type.items():
                s = sorted(durations)
                n = len(s)
                result[sat_id][metric_type] = {
                    "count": n,
                    "mean_ms": sum(durations) / n,
                    "p50_ms": s[n // 2],
                    "p95_ms": s[int(n * 0.95)],
                    "max_ms": max(durations),
                }
        return result

    def export_csv(self, filename: str) -> None:
        Path(filename).parent.mkdir(parents=True, exist_ok=True)
        with open(filename, "w", newline="") as f:
            writer = csv.DictWriter(
                f, fieldnames=["timestamp", "metric_type", "satellite_id", "duration_ms", "scenario_time_s"]
            )
            writer.writeheader()
            for m in self.measurements:
                writer.writerow(asdict(m))

    def get_summary(self) -> dict[str, Any]:
        if not self.measurements:
            return {"total_measurements": 0, "metrics": {}}
        return {
            "total_measurements": len(self.measurements),
            "measurement_types": dict(self._measurement_log),
            "stats": self.get_stats(),
            "stats_by_satellite": self.get_stats_by_satellite(),
        }

    def reset(self) -> None:
        self.measurements.clear()
        self._measurement_log.clear()

    def __len__(self) -> int:
        return len(self.measurements)
