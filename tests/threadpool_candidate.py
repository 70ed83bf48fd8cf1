"""A store that implements the proposal's parallel save faithfully, and so drops a worker's exception.

Everything else is the baseline's. The suite must catch it under the ci profile on every run, not when
its search happens to draw a failing write (tests/test_catches_proposed.py asserts that it does).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from storage.baseline import MetricsStorage


class ThreadPoolSave(MetricsStorage):
    """Both files written in worker threads; the futures are never asked for their result."""

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
        with ThreadPoolExecutor(max_workers=2) as pool:
            pool.submit(lambda: summary_path.write_text(json.dumps(summary_dict, indent=2, default=str)))
            pool.submit(lambda: collector.export_csv(str(csv_path)))
        return {"summary": str(summary_path), "raw": str(csv_path)}
