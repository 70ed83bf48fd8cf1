"""A candidate is judged as a class: what the suite looks up per store (declared divergences, the cache reset between
examples, the racy window, the clock) follows the class and its bases wherever each is defined, so a subclass that
changes nothing gets its parent's verdict; and a store whose state outlives its instances, with nothing to clear it,
is the harness's failure to judge, never "differs"."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.errors import HarnessError
from bench.runners import equivalence
from storage import optimized
from tests.common.differential import Differential, declared_divergences
from tests.common.store_modules import CannotReset, module_with, reset

SAME = """from storage.optimized import MetricsStorage


class Same(MetricsStorage):
    pass
"""
# A store keeping what it read in a class-level dict, with no clear_summary_cache anywhere along its bases.
LEAKY = """import json
from pathlib import Path

from storage.baseline import MetricsStorage as Original


class Leaky(Original):
    _metrics_cache = {}

    def get_run_metrics(self):
        key = str(self.metrics_dir)
        if key not in self._metrics_cache:
            self._metrics_cache[key] = super().get_run_metrics()
        return self._metrics_cache[key]
"""


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder outside the repository holding the two stores, importable here and by the suite's processes."""
    (tmp_path / "same_store.py").write_text(SAME)
    (tmp_path / "leaky_store.py").write_text(LEAKY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    yield tmp_path
    for name in ("same_store", "leaky_store"):
        sys.modules.pop(name, None)


def test_a_subclass_elsewhere_is_judged_by_its_parents_rules(outside: Path) -> None:
    same = importlib.import_module("same_store").Same
    assert declared_divergences(same) == declared_divergences(optimized.MetricsStorage) != frozenset()
    assert module_with(same, "_RACY_WINDOW_NS") is optimized


def test_the_reset_between_examples_clears_the_parents_cache(
    outside: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = importlib.import_module("same_store").Same
    monkeypatch.setattr(optimized, "_RACY_WINDOW_NS", 0)  # a file just written is cached at once
    store = same("run", results_dir=str(tmp_path / "results"))
    store.save_latency_stats(optimized.LatencyCollector())
    store.get_run_metrics()
    assert optimized._SUMMARY_CACHE._entries  # the parent's process-wide cache holds this example's file
    reset(same)
    assert not optimized._SUMMARY_CACHE._entries


def test_a_store_whose_state_outlives_its_instances_cannot_be_judged(outside: Path, tmp_path: Path) -> None:
    leaky = importlib.import_module("leaky_store").Leaky
    with pytest.raises(CannotReset, match=r"leaky_store\.Leaky\._metrics_cache"):
        Differential(leaky, tmp_path)
    assert equivalence.blame(f"CannotReset: {leaky}") is equivalence.Blame.HARNESS


def test_an_unchanged_subclass_gets_its_parents_answers_in_the_gates_pass(outside: Path) -> None:
    """The quick pass the gate and history run, on `same_store:Same` named as an outside candidate."""
    record = equivalence.check_named("same_store:Same")
    assert (record.verdict, record.differs_in, record.failed) == ("identical", (), 0)
    parent = equivalence.check_named("optimized")
    assert (record.tests, record.not_applicable) == (parent.tests, parent.not_applicable)


def test_an_unresettable_outside_store_is_a_harness_error_not_a_verdict(outside: Path) -> None:
    with pytest.raises(HarnessError, match="keeps state across instances"):
        equivalence.check_named("leaky_store:Leaky")
