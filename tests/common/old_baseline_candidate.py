"""The frozen baseline as it once stood: its compare_runs read both runs first and tested truthiness.

Kept as a store the suite must catch: tests/store/test_original_compare_runs.py shows each behaviour in which it
differs from the corrected control, and that the equivalence suite's explicit examples find it.
"""

from __future__ import annotations

from typing import Any

from storage.baseline import MetricsStorage


class TruthyCompare(MetricsStorage):
    """The corrected baseline, with the old compare_runs' order and checks in front of its comparison."""

    def compare_runs(self, other_run_id: str) -> dict[str, Any]:
        other_metrics = MetricsStorage(other_run_id).get_run_metrics()
        this_metrics = self.get_run_metrics()  # read even when the other run is missing
        if not other_metrics:
            return {"error": f"Could not load metrics for run {other_run_id}", "metrics": {}}
        if not this_metrics:
            return {"error": f"Could not load metrics for run {self.run_id}", "metrics": {}}
        # Both loaded and truthy: the corrected compare_runs reads them again and compares as the old one did.
        return super().compare_runs(other_run_id)
