"""The change as first proposed (seed 000_09a4941c3ea58c94, its "AFTER" blocks), kept as evidence.

Its defects are deliberate here: the thread pool drops write exceptions, the
cache is per instance and goes stale, it hands out the cached dict itself,
compare_runs still uses the default results_dir, and get_recent_runs orders by
modification time. Do not fix them: the harness must show it catches them.
"""

from __future__ import annotations

import heapq
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any


class MetricsStorage:
    """The proposed store: thread-pool save, instance cache, set union, modification-time heap."""

    def __init__(self, run_id: str, results_dir: str = "astraguard/hil/results") -> None:
        self.run_id = run_id
        self.metrics_dir = Path(results_dir) / run_id
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        self._cached_metrics: dict[str, Any] | None = None

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
        csv_path = self.metrics_dir / "latency_raw.csv"

        with ThreadPoolExecutor(max_workers=2) as executor:
            executor.submit(lambda: summary_path.write_text(json.dumps(summary_dict, indent=2, default=str)))
            executor.submit(lambda: collector.export_csv(str(csv_path)))

        self._cached_metrics = None
        return {"summary": str(summary_path), "raw": str(csv_path)}

    def get_run_metrics(self, use_cache: bool = True) -> dict[str, Any] | None:
        if use_cache and self._cached_metrics is not None:
            return self._cached_metrics

        summary_path = self.metrics_dir / "latency_summary.json"
        try:
            metrics = json.loads(summary_path.read_text())
            if use_cache:
                self._cached_metrics = metrics
            return metrics
        except FileNotFoundError:
            return None
        except Exception as e:
            print(f"[ERROR] Failed to load metrics from {summary_path}: {e}")
            return None

    def compare_runs(self, other_run_id: str) -> dict[str, Any]:
        other_storage = MetricsStorage(other_run_id)
        other_metrics = other_storage.get_run_metrics(use_cache=True)
        # The seed's BEFORE and AFTER blocks both leave out the original's checks between the two
        # loads; the proposal changed neither, so they are the original's here.
        if other_metrics is None:
            return {"error": f"Could not load metrics for run {other_run_id}", "metrics": {}}

        this_metrics = self.get_run_metrics(use_cache=True)
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

        metric_types = set(this_stats.keys()) | set(other_stats.keys())

        for metric_type in metric_types:
            this_data = this_stats.get(metric_type, {})
            other_data = other_stats.get(metric_type, {})

            if not this_data or not other_data:
                continue

            this_mean = this_data.get("mean_ms", 0)
            other_mean = other_data.get("mean_ms", 0)
            this_p95 = this_data.get("p95_ms", 0)
            other_p95 = other_data.get("p95_ms", 0)

            comparison["metrics"][metric_type] = {
                "this_mean_ms": this_mean,
                "other_mean_ms": other_mean,
                "diff_ms": this_mean - other_mean,
                "this_p95_ms": this_p95,
                "other_p95_ms": other_p95,
            }

        return comparison

    @staticmethod
    def get_recent_runs(results_dir: str = "astraguard/hil/results", limit: int = 10) -> list[str]:
        results_path = Path(results_dir)
        if not results_path.exists():
            return []

        candidates = []
        try:
            for run_dir in results_path.iterdir():
                if not run_dir.is_dir():
                    continue

                summary_file = run_dir / "latency_summary.json"
                if not summary_file.exists():
                    continue

                try:
                    mtime = summary_file.stat().st_mtime
                    candidates.append((mtime, run_dir.name))
                except OSError:
                    continue

            recent = heapq.nlargest(limit, candidates, key=lambda x: x[0])
            return [run_id for _, run_id in recent]
        except (OSError, PermissionError):
            return []
