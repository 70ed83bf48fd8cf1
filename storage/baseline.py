"""The original MetricsStorage, frozen as the control: bugs and quirks included.

Never edit this file. tests/test_baseline_frozen.py pins its sha256.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any


class MetricsStorage:
    """Saves a run's latency summary (JSON) and raw measurements (CSV) under results_dir/run_id."""

    def __init__(self, run_id: str, results_dir: str = "astraguard/hil/results") -> None:
        self.run_id = run_id
        self.metrics_dir = Path(results_dir) / run_id
        self.metrics_dir.mkdir(parents=True, exist_ok=True)

    def save_latency_stats(self, collector: Any) -> dict[str, str]:
        stats = collector.get_stats()
        summary = collector.get_summary()

        summary_dict = {
            "run_id": self.run_id,
            "timestamp": datetime.now().isoformat(),
            "total_measurements": len(collector.measurements),
            "measurement_types": summary.get("measurement_types", {}),
            "stats": stats,
            "stats_by_satellite": summary.get("stats_by_satellite", {}),
        }

        summary_path = self.metrics_dir / "latency_summary.json"
        summary_path.write_text(json.dumps(summary_dict, indent=2, default=str))

        csv_path = self.metrics_dir / "latency_raw.csv"
        collector.export_csv(str(csv_path))

        return {"summary": str(summary_path), "raw": str(csv_path)}

    def get_run_metrics(self) -> dict[str, Any] | None:
        summary_path = self.metrics_dir / "latency_summary.json"
        if not summary_path.exists():
            return None
        try:
            return json.loads(summary_path.read_text())
        except Exception as e:
            print(f"[ERROR] Failed to load metrics from {summary_path}: {e}")
            return None

    def compare_runs(self, other_run_id: str) -> dict[str, Any]:
        # Bug kept on purpose: the other run is looked up under the default results_dir.
        other_storage = MetricsStorage(other_run_id)
        other_metrics = other_storage.get_run_metrics()
        if other_metrics is None:
            # Returned before this run is read: nothing is printed for it.
            return {"error": f"Could not load metrics for run {other_run_id}", "metrics": {}}

        this_metrics = self.get_run_metrics()
        if this_metrics is None:
            return {"error": f"Could not load metrics for run {self.run_id}", "metrics": {}}

        comparison: dict[str, Any] = {
            "run1": self.run_id,
            "run2": other_run_id,
            "timestamp": datetime.now().isoformat(),
            "metrics": {},
        }

        this_stats = this_metrics.get("stats", {})
        other_stats = other_metrics.get("stats", {})

        for metric_type in set(list(this_stats.keys()) + list(other_stats.keys())):
            this_data = this_stats.get(metric_type, {})
            other_data = other_stats.get(metric_type, {})

            if not this_data or not other_data:
                continue

            comparison["metrics"][metric_type] = {
                "this_mean_ms": this_data.get("mean_ms", 0),
                "other_mean_ms": other_data.get("mean_ms", 0),
                "diff_ms": this_data.get("mean_ms", 0) - other_data.get("mean_ms", 0),
                "this_p95_ms": this_data.get("p95_ms", 0),
                "other_p95_ms": other_data.get("p95_ms", 0),
            }

        return comparison

    @staticmethod
    def get_recent_runs(results_dir: str = "astraguard/hil/results", limit: int = 10) -> list[str]:
        results_path = Path(results_dir)
        if not results_path.exists():
            return []

        runs = []
        for run_dir in sorted(results_path.iterdir(), reverse=True):
            if run_dir.is_dir() and (run_dir / "latency_summary.json").exists():
                runs.append(run_dir.name)
                if len(runs) >= limit:
                    break

        return runs
