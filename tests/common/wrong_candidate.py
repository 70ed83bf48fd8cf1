"""A deliberately wrong outside candidate: proves that `pytest tests --candidate module:Class` is checked."""

from __future__ import annotations

from storage.baseline import MetricsStorage


class RecentRunsAscending(MetricsStorage):
    """The baseline, except that get_recent_runs lists its runs in the opposite order."""

    @staticmethod
    def get_recent_runs(results_dir: str = "astraguard/hil/results", limit: int = 10) -> list[str]:
        return MetricsStorage.get_recent_runs(results_dir, limit)[::-1]
