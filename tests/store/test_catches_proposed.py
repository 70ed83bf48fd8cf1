"""The suite must catch what differs: the proposed store, and a wrong outside --candidate.

Each test runs one of the suite's own properties against a store known to differ and asserts that it
fails with the expected Mismatch; if one of these fails, the suite has gone blind to that defect. The
counterexample found is printed (`pytest -rP` shows it).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import storage
import tests.store.test_equivalence as properties
import tests.store.test_stateful as stateful
from tests.common.defect_classes import PLAIN_COLLECTOR
from tests.common.differential import Mismatch, side_by_side
from tests.common.threadpool_candidate import ThreadPoolSave

PROPOSED = storage.CANDIDATES["proposed"]
REPO = Path(__file__).resolve().parents[2]


def _counterexample(prop: Callable[..., None], candidate: Any = PROPOSED, **kwargs: Any) -> Mismatch:
    """Runs a property of the suite on a store known to differ and returns the Mismatch it must raise."""
    with pytest.raises(Mismatch) as caught:
        prop(candidate=candidate, **kwargs)
    print(caught.value, *getattr(caught.value, "__notes__", ()), sep="\n")
    return caught.value


def test_suite_catches_proposed_ordering_recent_runs_by_modification_time() -> None:
    mismatch = _counterexample(properties.test_recent_runs_match_for_positive_limits)
    assert mismatch.operation == "get_recent_runs"
    listed_by_baseline, listed_by_proposed = mismatch.baseline.value, mismatch.candidate.value
    assert len(listed_by_baseline) == len(listed_by_proposed)  # as many runs, picked or ordered otherwise
    assert listed_by_baseline != listed_by_proposed


def test_suite_catches_proposed_listing_nothing_for_a_limit_below_one() -> None:
    mismatch = _counterexample(properties.test_recent_runs_match_for_limits_below_one)
    assert mismatch.operation == "get_recent_runs"
    assert len(mismatch.baseline.value) == 1
    assert mismatch.candidate.value == []


def test_suite_catches_proposed_serving_a_stale_cache_after_another_instance_saves() -> None:
    mismatch = _counterexample(properties.test_reading_after_a_second_save_matches, condition="as-is")
    assert mismatch.operation in ("get_run_metrics", "compare_runs")
    assert isinstance(mismatch.candidate.value, dict)  # an old summary, not a failed read


def test_suite_catches_proposed_serving_a_stale_cache_after_an_outside_edit() -> None:
    mismatch = _counterexample(properties.test_reading_after_an_outside_edit_matches, condition="as-is")
    assert mismatch.operation in ("get_run_metrics", "compare_runs")
    assert mismatch.candidate.error is None


def test_suite_catches_proposed_handing_out_its_cached_dict() -> None:
    mismatch = _counterexample(properties.test_changing_a_returned_dict_changes_no_later_answer, condition="as-is")
    assert mismatch.operation in ("get_run_metrics", "compare_runs")


def test_suite_catches_proposed_dropping_a_write_error() -> None:
    mismatch = _counterexample(properties.test_saves_write_what_the_baseline_writes, collector_class="own")
    assert mismatch.operation == "save_latency_stats"
    assert mismatch.baseline.error is not None
    assert mismatch.candidate.error is None


def test_suite_catches_a_thread_pool_save_dropping_a_worker_exception() -> None:
    """Under the ci profile, by the explicit defect-class examples: the first one already raises."""
    mismatch = _counterexample(
        properties.test_saves_write_what_the_baseline_writes, candidate=ThreadPoolSave, collector_class="own"
    )
    assert mismatch.operation == "save_latency_stats"
    assert mismatch.baseline.error is not None
    assert mismatch.candidate.error is None


def test_the_thread_pool_save_differs_only_by_dropping_errors() -> None:
    """The candidate above is a fair test: where nothing fails, it passes the same property."""
    with side_by_side(ThreadPoolSave) as diff:
        store = diff.create_store("run-a", None)
        diff.save(store, PLAIN_COLLECTOR.build())
        diff.assert_same_trees()


def test_stateful_machine_catches_proposed() -> None:
    with pytest.raises(Mismatch) as caught:
        stateful.test_stores_answer_like_the_baseline_step_after_step(candidate=PROPOSED, condition="as-is")
    print(caught.value, *getattr(caught.value, "__notes__", ()), sep="\n")


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.parametrize(
    ("spec", "exit_code", "verdict"),
    [
        pytest.param(
            "tests.common.wrong_candidate:RecentRunsAscending", pytest.ExitCode.TESTS_FAILED, "1 failed", id="wrong"
        ),
        pytest.param("storage.optimized:MetricsStorage", pytest.ExitCode.OK, "1 passed", id="matching"),
    ],
)
def test_an_outside_candidate_fails_the_suite_only_when_it_differs(
    spec: str, exit_code: pytest.ExitCode, verdict: str
) -> None:
    module = spec.partition(":")[0]
    run = _pytest("tests/store/test_equivalence.py", f"--candidate={spec}", "-k", f"positive_limits and {module}")
    assert run.returncode == exit_code, run.stdout + run.stderr
    assert verdict in run.stdout
    assert ("Mismatch: get_recent_runs(" in run.stdout) == (exit_code == pytest.ExitCode.TESTS_FAILED)


def test_an_outside_candidate_that_cannot_be_imported_is_a_usage_error() -> None:
    run = _pytest("tests/store/test_equivalence.py", "--candidate=nowhere:Nothing", "--collect-only")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "cannot import 'nowhere'" in run.stderr
