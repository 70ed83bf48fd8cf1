"""compare_runs as the real original has it, pinned where the old reconstruction (TruthyCompare) differed.

The original loads the other run first and returns at once if it is None; only then it loads this run.
Both checks are `is None`: a summary of {} is compared, one of [] or false raises AttributeError.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tests.store.test_equivalence as properties
from storage import baseline, optimized
from storage.latency import LatencyCollector
from tests.common.differential import Mismatch
from tests.common.old_baseline_candidate import TruthyCompare

RESULTS = Path("astraguard/hil/results")  # compare_runs looks the other run up under the default folder
NOT_LOADED_B = {"error": "Could not load metrics for run b", "metrics": {}}


def _save_run_a() -> None:
    collector = LatencyCollector()
    collector.record_fault_detection("SAT-1", 1.0, 20.0)
    baseline.MetricsStorage("a").save_latency_stats(collector)


def _summary(run_id: str, text: str) -> None:
    (RESULTS / run_id).mkdir(parents=True, exist_ok=True)
    (RESULTS / run_id / "latency_summary.json").write_text(text)


def _compare(cls: type, this: str, other: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    try:
        answer: Any = cls(this).compare_runs(other)
    except AttributeError as e:
        answer = f"raises AttributeError: {e}"
    return answer, capsys.readouterr().out


def test_other_run_missing_returns_before_this_run_is_read(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _summary("b", "{")  # unreadable: reading it would print an [ERROR] line
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        assert _compare(cls, "b", "missing", capsys) == (
            {"error": "Could not load metrics for run missing", "metrics": {}},
            "",
        )
    answer, printed = _compare(TruthyCompare, "b", "missing", capsys)
    assert answer == {"error": "Could not load metrics for run missing", "metrics": {}}
    assert printed.startswith("[ERROR] Failed to load metrics from astraguard/hil/results/b/latency_summary.json")


@pytest.mark.parametrize("empty_side", ["other", "this"])
def test_a_summary_of_an_empty_object_is_compared(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], frozen_clock: str, empty_side: str
) -> None:
    _save_run_a()
    _summary("b", "{}")
    this, other = ("a", "b") if empty_side == "other" else ("b", "a")
    expected = {"run1": this, "run2": other, "timestamp": frozen_clock, "metrics": {}}
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        assert _compare(cls, this, other, capsys) == (expected, "")
    old, _ = _compare(TruthyCompare, this, other, capsys)
    assert old == {"error": "Could not load metrics for run b", "metrics": {}}


@pytest.mark.parametrize("text", ["[]", "false", "0", '""'])
@pytest.mark.parametrize("falsy_side", ["other", "this"])
def test_a_falsy_summary_that_is_not_an_object_raises_in_the_original(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], text: str, falsy_side: str
) -> None:
    _save_run_a()
    _summary("b", text)
    this, other = ("a", "b") if falsy_side == "other" else ("b", "a")
    kind = type(json.loads(text)).__name__
    assert _compare(baseline.MetricsStorage, this, other, capsys) == (
        f"raises AttributeError: '{kind}' object has no attribute 'get'",
        "",
    )
    assert _compare(TruthyCompare, this, other, capsys)[0] == NOT_LOADED_B
    # optimized refuses it as unreadable: divergence summary-must-be-an-object (tests/store/test_divergences.py).
    answer, printed = _compare(optimized.MetricsStorage, this, other, capsys)
    assert answer == NOT_LOADED_B
    assert "in JSON, not an object" in printed


def test_a_null_summary_counts_as_missing(in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _save_run_a()
    _summary("b", "null")
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage, TruthyCompare):
        assert _compare(cls, "a", "b", capsys) == (NOT_LOADED_B, "")


def test_the_equivalence_suite_catches_the_old_reconstruction() -> None:
    """By its explicit compare_runs examples, under the ci profile, on every run."""
    with pytest.raises(Mismatch) as caught:
        properties.test_compare_runs_matches(candidate=TruthyCompare)
    assert caught.value.operation == "compare_runs"


def test_an_empty_other_summary_with_this_run_missing_names_this_run(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _summary("b", "{}")
    not_loaded_a = {"error": "Could not load metrics for run a", "metrics": {}}
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        assert _compare(cls, "a", "b", capsys) == (not_loaded_a, "")
    assert _compare(TruthyCompare, "a", "b", capsys) == (NOT_LOADED_B, "")
