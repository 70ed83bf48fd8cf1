"""Differential properties: for any input, a candidate gives the baseline's answers, files, output and exceptions.

Each property runs for every candidate (see conftest.py); Differential raises Mismatch on the first
difference, and the properties below only say which steps to take.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import tests.common.defect_classes as known
from tests.common.differential import FILE_TIMES, Differential, first_difference, side_by_side
from tests.common.strategies import (
    DEFAULT_RESULTS_DIR,
    RAW_NAME,
    SUMMARY_NAME,
    CollectorRecipe,
    ResultTree,
    Rewrite,
    collectors,
    dict_mutations,
    limits,
    listing_dirs,
    outside_edits,
    result_trees,
    results_dirs,
    run_ids,
    summary_texts,
)


@pytest.mark.parametrize("collector_class", ["own", "foreign"])
@known.apply(known.save_examples())
@given(
    run_id=run_ids(),
    results_dir=results_dirs(),
    saves=st.lists(collectors(), min_size=1, max_size=3),
)
def test_saves_write_what_the_baseline_writes(
    candidate: Any, run_id: str, results_dir: str | None, saves: list[CollectorRecipe], collector_class: str
) -> None:
    """Same return value, same bytes in both files, same exceptions; each save over the previous one.

    own: collectors of the class the candidate's module imports (its fast path); foreign: the same
    collector code loaded as another class, which must get exactly the same output by the slow path.
    """
    with side_by_side(candidate, foreign_collectors=collector_class == "foreign") as diff:
        store = diff.create_store(run_id, results_dir)
        if store is not None:
            for recipe in saves:
                diff.save(store, recipe.build())
                diff.assert_same_trees(after=f"saving {recipe!r}")
                diff.get_run_metrics(store)
        diff.assert_same_trees()


SAME_AS_TREE = "<the tree's own folder>"  # never a folder name a listing strategy draws


@known.apply(known.recent_runs_examples(SAME_AS_TREE))
@given(tree=result_trees(), tree_dir=results_dirs(), listed=st.one_of(st.just(SAME_AS_TREE), listing_dirs()))
def test_recent_runs_match_for_positive_limits(
    candidate: Any, tree: ResultTree, tree_dir: str | None, listed: str | None
) -> None:
    """Names sorted descending, folders holding a summary only (links to folders count), up to limit."""
    if listed == SAME_AS_TREE:
        listed = tree_dir
    with side_by_side(candidate) as diff:
        diff.build(Path(tree_dir or DEFAULT_RESULTS_DIR), tree)
        diff.get_recent_runs(listed)
        for limit in range(1, len(tree.entries) + 2):
            diff.get_recent_runs(listed, limit)
        diff.assert_same_trees()


@known.apply(known.limit_examples())
@given(tree=result_trees(max_entries=4), tree_dir=results_dirs(), limit=limits().filter(lambda n: n < 1))
def test_recent_runs_match_for_limits_below_one(
    candidate: Any, tree: ResultTree, tree_dir: str | None, limit: int
) -> None:
    """The baseline checks the limit after appending: 0 or less still lists the first run."""
    with side_by_side(candidate) as diff:
        diff.build(Path(tree_dir or DEFAULT_RESULTS_DIR), tree)
        diff.get_recent_runs(tree_dir, limit)


def _runs_with_contents(diff: Differential, runs: list[tuple]) -> list[Any]:
    """Each (run_id, results_dir, content) as a store: saved from a collector, written as bytes, or left empty."""
    stores = []
    for run_id, results_dir, content in runs:
        store = diff.create_store(run_id, results_dir)
        if store is None:
            continue
        stores.append(store)
        if isinstance(content, CollectorRecipe):
            diff.save(store, content.build())
        elif isinstance(content, bytes):
            diff.edit_from_outside(store.folder / SUMMARY_NAME, Rewrite(content, in_place=True))
    return stores


_OTHER_RUN = st.tuples(
    st.one_of(st.sampled_from(("run-a", "run-b", "Run-A")), run_ids()),
    results_dirs(),
    st.one_of(st.none(), collectors(max_measurements=40), summary_texts()),
)


@known.apply(known.compare_examples())
@given(
    this=st.tuples(st.sampled_from(("run-a", "this")), results_dirs(), collectors(max_measurements=40)),
    others=st.lists(_OTHER_RUN, min_size=1, max_size=3),
    asked=st.lists(st.one_of(st.sampled_from(("run-a", "run-b", "Run-A", "missing")), run_ids()), max_size=3),
)
def test_compare_runs_matches(candidate: Any, this: tuple, others: list[tuple], asked: list[str]) -> None:
    """Either run missing or unreadable, stats with odd shapes, runs in other folders, each way round."""
    with side_by_side(candidate) as diff:
        stores = _runs_with_contents(diff, [this, *others])
        for store in stores:
            for other in [*(s.run_id for s in stores), *asked]:
                diff.compare_runs(store, other)
        diff.assert_same_trees()


# The cache properties run under each file-time condition (see differential.file_times).
file_time_conditions = pytest.mark.parametrize("condition", FILE_TIMES)


@file_time_conditions
@known.apply(known.cached_compare_examples())
@given(this=_OTHER_RUN, others=st.lists(_OTHER_RUN, min_size=1, max_size=2))
def test_compare_runs_of_cached_runs_matches(candidate: Any, condition: str, this: tuple, others: list[tuple]) -> None:
    """Odd stats read once, then compared twice: where the cache trusts them, the second time from its views."""
    with side_by_side(candidate, condition) as diff:
        stores = _runs_with_contents(diff, [this, *others])
        for store in stores:
            diff.get_run_metrics(store)
        for _ in range(2):
            for store in stores:
                for other in stores:
                    diff.compare_runs(store, other.run_id)
        diff.assert_same_trees()


@file_time_conditions
@given(results_dir=results_dirs(), saved=st.lists(collectors(max_measurements=60), min_size=2, max_size=3))
def test_compare_runs_between_saved_runs_matches(
    candidate: Any, condition: str, results_dir: str | None, saved: list[CollectorRecipe]
) -> None:
    """Runs saved side by side in one folder, compared each way round, twice (the second time from a cache)."""
    with side_by_side(candidate, condition) as diff:
        stores = [diff.create_store(f"run-{i}", results_dir) for i in range(len(saved))]
        for store, recipe in zip(stores, saved, strict=True):
            diff.save(store, recipe.build())
        for _ in range(2):
            for store in stores:
                for other in stores:
                    diff.compare_runs(store, other.run_id)


@file_time_conditions
@known.apply(known.second_save_examples())
@given(
    run_id=st.sampled_from(("run-a", "Run-A")),
    results_dir=results_dirs(),
    first=collectors(max_measurements=200, can_fail=False),
    second=collectors(max_measurements=200, can_fail=False),
    use_cache=st.booleans(),
)
def test_reading_after_a_second_save_matches(
    candidate: Any,
    condition: str,
    run_id: str,
    results_dir: str | None,
    first: CollectorRecipe,
    second: CollectorRecipe,
    use_cache: bool,
) -> None:
    """A save through another instance of the same run is seen by the first instance's next read."""
    with side_by_side(candidate, condition) as diff:
        store = diff.create_store(run_id, results_dir)
        diff.save(store, first.build())
        diff.get_run_metrics(store)
        diff.get_run_metrics(store)
        other_instance = diff.create_store(run_id, results_dir)
        diff.save(other_instance, second.build())
        diff.get_run_metrics(store, use_cache)
        diff.get_run_metrics(store)
        diff.get_run_metrics(other_instance)
        diff.compare_runs(store, run_id)


@file_time_conditions
@known.apply(known.outside_edit_examples())
@given(
    collector=collectors(max_measurements=100, can_fail=False),
    file_name=st.sampled_from((SUMMARY_NAME, RAW_NAME)),
    edits=st.lists(outside_edits(), min_size=1, max_size=3),
)
def test_reading_after_an_outside_edit_matches(
    candidate: Any, condition: str, collector: CollectorRecipe, file_name: str, edits: list[Any]
) -> None:
    """Rewritten (even keeping its size), truncated, overwritten or deleted: the next read sees it."""
    with side_by_side(candidate, condition) as diff:
        store = diff.create_store("run-a", None)
        diff.save(store, collector.build())
        diff.get_run_metrics(store)
        for edit in edits:
            diff.edit_from_outside(store.folder / file_name, edit)
            diff.get_run_metrics(store)
            diff.get_run_metrics(store, use_cache=False)
            diff.compare_runs(store, "run-a")
        diff.assert_same_trees()


@file_time_conditions
@known.apply(known.shared_dict_examples())
@given(
    collector=collectors(max_measurements=100, can_fail=False),
    mutations=st.lists(dict_mutations(), min_size=1, max_size=3),
)
def test_changing_a_returned_dict_changes_no_later_answer(
    candidate: Any, condition: str, collector: CollectorRecipe, mutations: list[Any]
) -> None:
    """Every answer is the caller's own: changing it changes nothing the store says next."""
    with side_by_side(candidate, condition) as diff:
        store = diff.create_store("run-a", None)
        diff.save(store, collector.build())
        for mutation in mutations:
            for answers in (diff.get_run_metrics(store), diff.compare_runs(store, "run-a")):
                for answer in answers:
                    if isinstance(answer, dict):
                        mutation.apply(answer)
        diff.get_run_metrics(store)
        diff.compare_runs(store, "run-a")


@file_time_conditions
@known.apply(known.shared_comparison_examples())
@given(
    this_summary=summary_texts(),
    other_summary=summary_texts(),
    mutations=st.lists(dict_mutations(), min_size=1, max_size=3),
)
def test_changing_a_comparison_changes_no_later_comparison(
    candidate: Any, condition: str, this_summary: bytes, other_summary: bytes, mutations: list[Any]
) -> None:
    """Summaries with values of any shape, compared again and again: no answer shares a value with a cache."""
    with side_by_side(candidate, condition) as diff:
        this, other = diff.create_store("run-a", None), diff.create_store("run-b", None)
        diff.edit_from_outside(this.folder / SUMMARY_NAME, Rewrite(this_summary, in_place=False))
        diff.edit_from_outside(other.folder / SUMMARY_NAME, Rewrite(other_summary, in_place=False))
        diff.compare_runs(this, other.run_id)  # reads both files: a cache keeps them from here on
        for mutation in mutations:
            for answer in diff.compare_runs(this, other.run_id):
                if isinstance(answer, dict):
                    mutation.apply(answer)
        diff.compare_runs(this, other.run_id)


# --- the harness's own rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline_answer", "candidate_answer", "same"),
    [
        (float("nan"), float("nan"), True),
        ({"a": [float("nan"), -0.0]}, {"a": [float("nan"), -0.0]}, True),
        ({"x": 1, "y": 2}, {"y": 2, "x": 1}, True),  # compare_runs' metrics come from a set
        (0.0, -0.0, False),
        ({"p50_ms": [-0.0]}, {"p50_ms": [0.0]}, False),
        (1, 1.0, False),
        ([1, 2], (1, 2), False),
        (["run1", "Run1"], ["Run1", "run1"], False),
    ],
)
def test_answers_compare_equal_only_when_identical(baseline_answer: Any, candidate_answer: Any, same: bool) -> None:
    assert (first_difference(baseline_answer, candidate_answer) is None) == same


def test_a_divergence_the_harness_does_not_know_stops_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("made_up_candidate")
    module.DIVERGENCES = {"faster-by-skipping-the-csv": "writes no CSV"}
    module.MetricsStorage = type("MetricsStorage", (), {"__module__": "made_up_candidate"})
    monkeypatch.setitem(sys.modules, "made_up_candidate", module)
    with pytest.raises(LookupError, match="faster-by-skipping-the-csv"):
        Differential(module.MetricsStorage, tmp_path)
