"""Baseline and candidate driven side by side through interleaved steps; every answer must be the baseline's.

Each rule is one thing a user or another process does; Differential compares its answers at once, and
the invariant compares every file left on disk after every step.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, multiple, rule, run_state_machine_as_test

from tests.common.differential import FILE_TIMES, Differential, StorePair, file_times, frozen_clocks
from tests.common.strategies import (
    DEFAULT_RESULTS_DIR,
    RAW_NAME,
    SUMMARY_NAME,
    DictMutation,
    ResultTree,
    Rewrite,
    TreeEntry,
    collectors,
    dict_mutations,
    limits,
    listing_dirs,
    outside_edits,
    results_dirs,
    run_ids,
    summary_texts,
    tree_entries,
)

# A few run ids that keep coming back, so stores share runs; plus the odd ones.
_RECURRING_RUNS = ("run-a", "Run-A", "run-b")
_STORE_RUN_IDS = st.one_of(st.sampled_from(_RECURRING_RUNS), run_ids())


class StoresSideBySide(RuleBasedStateMachine):
    """The steps; a subclass made by machine_for() names the candidate and the file-time condition."""

    candidate_class: Any = None
    condition = "as-is"

    stores = Bundle("stores")
    answers = Bundle("answers")

    def __init__(self) -> None:
        super().__init__()
        self._root = tempfile.TemporaryDirectory(prefix="stateful-")
        self.diff = Differential(
            self.candidate_class, Path(self._root.name), unique_mtimes=self.condition == "cache-trusts-at-once"
        )

    def teardown(self) -> None:
        self._root.cleanup()

    @rule(target=stores, run_id=_STORE_RUN_IDS, results_dir=results_dirs())
    def create_a_store(self, run_id: str, results_dir: str | None) -> Any:
        store = self.diff.create_store(run_id, results_dir)
        return multiple() if store is None else store

    @rule(store=stores, collector=collectors(max_measurements=300))
    def save_a_collector(self, store: StorePair, collector: Any) -> None:
        self.diff.save(store, collector.build())

    @rule(store=stores, collector=collectors(max_measurements=300))
    def save_through_a_second_instance_of_the_run(self, store: StorePair, collector: Any) -> None:
        second = self.diff.create_store(store.run_id, store.results_dir)
        if second is not None:
            self.diff.save(second, collector.build())

    @rule(target=answers, store=stores, use_cache=st.booleans())
    def read_the_run_metrics(self, store: StorePair, use_cache: bool) -> Any:
        answers = self.diff.get_run_metrics(store, use_cache)
        return answers if isinstance(answers[0], dict) else multiple()

    @rule(target=answers, store=stores, other=st.one_of(stores, _STORE_RUN_IDS))
    def compare_with_another_run(self, store: StorePair, other: StorePair | str) -> Any:
        answers = self.diff.compare_runs(store, other.run_id if isinstance(other, StorePair) else other)
        return answers if isinstance(answers[0], dict) else multiple()

    @rule(listed=listing_dirs(), asked=st.lists(st.one_of(st.none(), limits()), min_size=1, max_size=6))
    def list_the_recent_runs(self, listed: str | None, asked: list[int | None]) -> None:
        for limit in asked:
            self.diff.get_recent_runs(listed, limit)

    @rule(store=stores, content=summary_texts(), in_place=st.booleans())
    def rewrite_the_summary_from_outside(self, store: StorePair, content: bytes, in_place: bool) -> None:
        self.diff.edit_from_outside(store.folder / SUMMARY_NAME, Rewrite(content, in_place))

    @rule(store=stores, file_name=st.sampled_from((SUMMARY_NAME, RAW_NAME)), edit=outside_edits())
    def delete_truncate_or_corrupt_a_file(self, store: StorePair, file_name: str, edit: Any) -> None:
        self.diff.edit_from_outside(store.folder / file_name, edit)

    @rule(store=stores)
    def delete_the_run_folder(self, store: StorePair) -> None:
        self.diff.delete_folder(store.folder)

    @rule(results_dir=results_dirs(), entry=tree_entries(siblings=_RECURRING_RUNS))
    def put_an_entry_beside_the_runs(self, results_dir: str | None, entry: TreeEntry) -> None:
        folder = Path(results_dir or DEFAULT_RESULTS_DIR)
        place = self.diff.baseline.root / folder / entry.name
        if not (place.exists() or place.is_symlink()):
            self.diff.build(folder, ResultTree((entry,)))

    @rule(answer=answers, mutation=dict_mutations())
    def change_a_dict_the_store_returned(self, answer: tuple[Any, Any], mutation: DictMutation) -> None:
        for returned in answer:
            mutation.apply(returned)

    @invariant()
    def the_same_files_are_on_disk(self) -> None:
        self.diff.assert_same_trees()


def machine_for(candidate: Any, condition: str) -> type[StoresSideBySide]:
    return type(
        f"StoresSideBySide[{candidate.__qualname__}, {condition}]",
        (StoresSideBySide,),
        {"candidate_class": candidate, "condition": condition},
    )


@pytest.mark.parametrize("condition", FILE_TIMES)
def test_stores_answer_like_the_baseline_step_after_step(candidate: Any, condition: str) -> None:
    with frozen_clocks(candidate), file_times(condition, candidate):
        run_state_machine_as_test(machine_for(candidate, condition))
