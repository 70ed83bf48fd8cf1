"""The collector a store is fed (its revision's latency.py), against the frozen original's: the same recordings,
answers and saved files.

A store is judged with both sides fed that same collector (tests/common/differential.py), so a change in the
collector alone never reads as the store's. This test names it on its own: `equivalence`, `history` and the gate
report it as the collector's ("saved files differ"), beside the store's verdict.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given

import storage.baseline
import storage.latency
from storage import collector_class_for
from tests.common.clock import freeze_clock
from tests.common.comparing import CollectorMismatch, Outcome, first_difference
from tests.common.strategies import RAW_NAME, SUMMARY_NAME, CollectorRecipe, Record, collectors

FROZEN_TIME = 1_767_000_000.25  # what time.time() gives every recording, on both sides


@contextlib.contextmanager
def _stopped(*collector_classes: type) -> Iterator[None]:
    """time.time() stopped in each collector's module, and the frozen original store's datetime."""
    with pytest.MonkeyPatch.context() as patch:
        for cls in collector_classes:
            module = sys.modules[cls.__module__]
            if getattr(module, "time", None) is not None:
                patch.setattr(
                    module, "time", types.SimpleNamespace(**{**vars(module.time), "time": lambda: FROZEN_TIME})
                )
        freeze_clock(patch, storage.baseline.MetricsStorage)
        yield


def _run(call: Any) -> Outcome:
    try:
        return Outcome(call(), None, "")
    except Exception as error:  # compared with the other side's, never dropped
        return Outcome(None, error, "")


def _same(a: Outcome, b: Outcome) -> str | None:
    if (type(a.error), str(a.error)) != (type(b.error), str(b.error)):
        return f"the original's {a}; this revision's {b}"
    return None if a.error else first_difference(a.value, b.value)


def _recorded(recipe: CollectorRecipe, collector_class: type) -> tuple[Any, list[Outcome]]:
    collector = collector_class()
    measurement_class = sys.modules[collector_class.__module__].LatencyMeasurement
    return collector, [_run(lambda step=step: step.apply(collector, measurement_class)) for step in recipe.steps]


def _saved(collector: Any, root: Path) -> tuple[Outcome, dict[str, bytes]]:
    """The collector saved by the frozen original store: its answer and the bytes of each file it left."""
    root.mkdir()
    with contextlib.chdir(root):  # the same relative paths on both sides, so the answers can match
        outcome = _run(
            lambda: storage.baseline.MetricsStorage("run", results_dir="results").save_latency_stats(collector)
        )
    folder = root / "results" / "run"
    return outcome, {
        name: (folder / name).read_bytes() for name in (SUMMARY_NAME, RAW_NAME) if (folder / name).is_file()
    }


def _file_difference(original: dict[str, bytes], revision: dict[str, bytes]) -> str | None:
    for name in sorted(original.keys() | revision.keys()):
        if name not in revision or name not in original:
            return f"{name} is written by {'the original' if name in original else 'this revision'} only"
        a, b = original[name].splitlines(), revision[name].splitlines()
        for number, (line_a, line_b) in enumerate(zip(a, b, strict=False), start=1):
            if line_a != line_b:
                shown_a, shown_b = (line.decode("utf-8", "replace")[:120] for line in (line_a, line_b))
                return f"{name} line {number}: {shown_a!r} (original) != {shown_b!r} (this revision)"
        if len(a) != len(b):
            return f"{name}: {len(a)} lines (original) != {len(b)} (this revision)"
    return None


def judge(recipe: CollectorRecipe, collector_class: type) -> None:
    """CollectorMismatch where collector_class differs from the original: saved files first, recordings, answers."""
    original_class = storage.latency.LatencyCollector
    with _stopped(original_class, collector_class), tempfile.TemporaryDirectory(prefix="collector-") as scratch:
        (original, original_steps), (revision, revision_steps) = (
            _recorded(recipe, c) for c in (original_class, collector_class)
        )
        saved_original = _saved(original, Path(scratch, "original"))
        saved_revision = _saved(revision, Path(scratch, "revision"))
        answers = [
            (name, _run(getattr(original, name)), _run(getattr(revision, name)))
            for name in ("get_stats", "get_summary", "__len__")
        ]
    recorded = next(
        (
            f"step {number} {recipe.steps[number - 1]}: {found}"
            for number, (a, b) in enumerate(zip(original_steps, revision_steps, strict=True), start=1)
            if (found := _same(a, b)) is not None
        ),
        None,
    )
    saved = _same(saved_original[0], saved_revision[0]) or _file_difference(saved_original[1], saved_revision[1])
    if saved:
        raise CollectorMismatch(
            f"saved files differ: {saved}" + (f"; it records differently: {recorded}" if recorded else "")
        )
    if recorded:
        raise CollectorMismatch(f"records differently: {recorded}")
    for name, a, b in answers:
        if (found := _same(a, b)) is not None:
            raise CollectorMismatch(f"answers differently: {name}(): {found}")


def test_the_collector_records_answers_and_saves_as_the_original_does(candidate: Any) -> None:
    collector_class = collector_class_for(candidate)
    if collector_class is storage.latency.LatencyCollector:
        pytest.skip("fed the frozen original collector itself")

    @given(collectors(max_measurements=300, can_fail=False).filter(lambda recipe: recipe.script is None))
    @example(CollectorRecipe((Record("record_fault_detection", "SAT-1", 0, 5),)))  # ints, as a caller passes them
    @example(CollectorRecipe((Record("record_agent_decision", "", -1.5, -2.0),)))  # what validation refuses
    @example(CollectorRecipe(()))  # nothing recorded: the empty summary and an export of no rows
    def check(recipe: CollectorRecipe) -> None:
        judge(recipe, collector_class)

    check()
