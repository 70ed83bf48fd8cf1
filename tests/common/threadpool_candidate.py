"""The proposal's parallel save on the baseline's store: it drops the exception a worker thread raises.

Everything but save_latency_stats is the baseline's. The suite must catch it under the ci profile on every
run, not when its search happens to draw a failing write (tests/store/test_catches_proposed.py asserts it does).
"""

from __future__ import annotations

from storage import baseline, proposed


class ThreadPoolSave(proposed.MetricsStorage):
    """proposed.py's save (a thread pool whose futures are never asked for their result); the rest baseline's."""

    get_run_metrics = baseline.MetricsStorage.get_run_metrics
    compare_runs = baseline.MetricsStorage.compare_runs
    get_recent_runs = staticmethod(baseline.MetricsStorage.get_recent_runs)
