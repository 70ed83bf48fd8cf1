"""Fuzzing: any summary file fed to get_run_metrics, any results tree fed to get_recent_runs.

The optimized store must never crash or hang on them, and must answer exactly as the baseline
does: same value, same exception, same printed line. Summaries are regular files under the size
cap, where no divergence applies; trees add FIFOs, which the baseline only stats, never opens.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from storage import baseline, optimized
from tests.common.call_outcomes import Outcome, outcome_of
from tests.common.differential import DivergenceRules, declared_divergences
from tests.common.strategies import ResultTree, limits, result_trees, summary_texts
from tests.common.tagged_collectors import expected_summary

SUMMARY = optimized.SUMMARY_NAME
SOAK_SUMMARIES = 10_000  # about 3 ms each
SOAK_TREES = 2_000  # about 50 ms each: a folder of up to 15 entries built and listed twice

# A summary as the store writes it, to be damaged: json.dumps(indent=2) of the baseline's keys.
_SAVED = json.dumps(
    {"timestamp": "2026-01-02T03:04:05.678901", **expected_summary("fuzzed", 0, 1, 12)}, indent=2
).encode()


def damaged_summaries() -> st.SearchStrategy[bytes]:
    """A saved summary cut short, with one byte changed, re-encoded, or nested past the parser's depth."""
    cut = st.integers(0, len(_SAVED) - 1).map(lambda n: _SAVED[:n])
    flipped = st.tuples(st.integers(0, len(_SAVED) - 1), st.integers(0, 255)).map(
        lambda at: _SAVED[: at[0]] + bytes([at[1]]) + _SAVED[at[0] + 1 :]
    )
    re_encoded = st.sampled_from(("utf-16", "utf-32", "utf-8-sig")).map(lambda codec: _SAVED.decode().encode(codec))
    nested = st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth)
    return st.one_of(cut, flipped, re_encoded, nested)


def _comparable(outcome: Outcome) -> tuple[str, object, str]:
    """JSON text of the value: NaN equals NaN, -0.0 differs from 0.0, 1 differs from 1.0."""
    return json.dumps(outcome.returned), outcome.raised, outcome.printed


def _examples(count: int | None) -> settings:
    """The loaded profile's settings in CI; for the soak, `count` examples of a random search."""
    if count is None:
        return settings(deadline=None)  # file system calls on a shared machine vary too much for a deadline
    return settings(deadline=None, max_examples=count, derandomize=False)


@pytest.mark.parametrize("examples", [None, pytest.param(SOAK_SUMMARIES, marks=pytest.mark.slow)])
def test_any_summary_file_gets_the_baselines_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, record_property: pytest.RecordProperty, examples: int | None
) -> None:
    stores = baseline.MetricsStorage("r", str(tmp_path)), optimized.MetricsStorage("r", str(tmp_path))
    summary_path = stores[0].metrics_dir / SUMMARY
    tried: list[bytes] = []
    mismatched: set[bytes] = set()

    @_examples(examples)
    @given(content=st.one_of(summary_texts(), damaged_summaries()))
    def gets_the_baselines_answer(content: bytes) -> None:
        tried.append(content)
        summary_path.write_bytes(content)
        optimized.clear_summary_cache()
        with _DIVERGENCES.baseline_reads():  # the declared divergences, through the harness's one rule set
            expected = _comparable(outcome_of(stores[0].get_run_metrics))
        answers = [_comparable(outcome_of(stores[1].get_run_metrics))]  # read from the file
        with monkeypatch.context() as trusting:
            trusting.setattr(optimized, "_RACY_WINDOW_NS", 0)  # trust the cache at once
            answers.append(_comparable(outcome_of(stores[1].get_run_metrics)))  # stored in the cache
            answers.append(_comparable(outcome_of(stores[1].get_run_metrics)))  # served from it
        if answers != [expected] * 3:
            mismatched.add(content)
        assert answers == [expected] * 3

    try:
        gets_the_baselines_answer()
    finally:
        record_property("summaries_tried", len(tried))
        record_property("losses", len(mismatched))


_DIVERGENCES = DivergenceRules(declared_divergences(optimized.MetricsStorage))
_FIFO_KINDS = ("fifo-entry", "run-whose-summary-is-a-fifo")


def _add_fifo(results_dir: Path, name: str, kind: str) -> None:
    if kind == "fifo-entry":
        os.mkfifo(results_dir / name)
    else:
        (results_dir / name).mkdir()
        os.mkfifo(results_dir / name / SUMMARY)


@pytest.mark.parametrize("examples", [None, pytest.param(SOAK_TREES, marks=pytest.mark.slow)])
def test_any_results_tree_gets_the_baselines_listing(
    tmp_path: Path, record_property: pytest.RecordProperty, examples: int | None
) -> None:
    tried: list[ResultTree] = []
    mismatched: set[ResultTree] = set()

    @_examples(examples)
    @given(
        tree=result_trees(),
        fifos=st.dictionaries(st.text("fifo-abc", min_size=1, max_size=4), st.sampled_from(_FIFO_KINDS), max_size=3),
        limit=limits(),
    )
    def gets_the_baselines_listing(tree: ResultTree, fifos: dict[str, str], limit: int) -> None:
        assume(not {entry.name for entry in tree.entries} & fifos.keys())
        tried.append(tree)
        with tempfile.TemporaryDirectory(dir=tmp_path) as root:
            results_dir = Path(root) / "results"
            tree.build(results_dir)
            for name, kind in fifos.items():
                _add_fifo(results_dir, name, kind)
            expected = outcome_of(lambda: baseline.MetricsStorage.get_recent_runs(str(results_dir), limit))
            answer = outcome_of(lambda: optimized.MetricsStorage.get_recent_runs(str(results_dir), limit))
        if answer != expected:
            mismatched.add(tree)
        assert answer == expected

    try:
        gets_the_baselines_listing()
    finally:
        record_property("trees_tried", len(tried))
        record_property("losses", len(mismatched))
