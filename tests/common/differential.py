"""The differential harness: each step runs on the baseline and on a candidate, and must come out the same.

Each side has its own folder and working directory and uses the same relative paths, so even the
baseline's printed errors match. What "the same" means is tests.common.comparing's; a candidate's
declared DIVERGENCES are honoured in tests.common.divergence_rules, and nowhere else.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import io
import itertools
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import storage.baseline
import storage.latency
from storage import collector_class_for
from tests.common.clock import freeze_clock
from tests.common.comparing import (
    Entry,
    Mismatch,
    Outcome,
    first_difference,
    snapshot,
    tree_difference,
)
from tests.common.divergence_rules import HANDLED_DIVERGENCES, DivergenceRules, declared_divergences
from tests.common.store_modules import module_with, reset
from tests.common.strategies import DEFAULT_RESULTS_DIR, SUMMARY_NAME

# What tests import from here, wherever it is defined.
__all__ = [
    "FILE_TIMES",
    "HANDLED_DIVERGENCES",
    "Differential",
    "Entry",
    "Mismatch",
    "Outcome",
    "declared_divergences",
    "file_times",
    "first_difference",
    "side_by_side",
    "snapshot",
    "tree_difference",
]

BaselineStore = storage.baseline.MetricsStorage


# --- comparing values ----------------------------------------------------------------------------


# --- comparing files -----------------------------------------------------------------------------


# --- the divergences a candidate declares --------------------------------------------------------


# --- collectors of the candidate's own class ---------------------------------------------------

_FOREIGN_LATENCY = "foreign_latency"


def foreign_collector_class() -> type:
    """storage/latency.py loaded a second time under another name: the same collector, of another class."""
    module = sys.modules.get(_FOREIGN_LATENCY)
    if module is None:
        spec = importlib.util.spec_from_file_location(_FOREIGN_LATENCY, storage.latency.__file__)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[_FOREIGN_LATENCY] = module
        spec.loader.exec_module(module)
    return module.LatencyCollector


def recast(collector: Any, collector_class: type) -> Any:
    """The same plain collector as an instance of collector_class, its measurements of that module's class.

    Strategies build storage.latency collectors; a deployed store's fast path is keyed to its own sibling
    module's class, so that is what it must be fed for the fast path to be the one checked. Subclasses
    (ScriptedCollector) and odd measurements stay as they are: they test the slow path on purpose.
    """
    if type(collector) is not storage.latency.LatencyCollector or collector_class is storage.latency.LatencyCollector:
        return collector
    measurement_class = sys.modules[collector_class.__module__].LatencyMeasurement
    state = dict(vars(collector))
    if type(collector.measurements) is list:
        state["measurements"] = [
            measurement_class(m.timestamp, m.metric_type, m.satellite_id, m.duration_ms, m.scenario_time_s)
            if type(m) is storage.latency.LatencyMeasurement
            else m
            for m in collector.measurements
        ]
    converted = collector_class()  # its own __init__ first: a revision's collector may keep more state than ours
    vars(converted).update(state)
    return converted


# --- the two sides -------------------------------------------------------------------------------


class Side:
    """One store class in its own working directory; each call's answer, exception and output recorded."""

    def __init__(self, store_class: Any, root: Path) -> None:
        self.store_class = store_class
        self.root = root
        root.mkdir(parents=True)

    def run(self, call: Callable[[], Any]) -> Outcome:
        printed = io.StringIO()
        with contextlib.chdir(self.root), contextlib.redirect_stdout(printed):
            try:
                value = call()
            except Exception as error:  # the answer under test: compared with the baseline's, never dropped
                return Outcome(None, error, printed.getvalue())
        return Outcome(value, None, printed.getvalue())


@dataclass(frozen=True)
class StorePair:
    """The same store on both sides, built from the same run_id and results_dir (None: the default)."""

    run_id: str
    results_dir: str | None
    baseline: Any
    candidate: Any

    @property
    def folder(self) -> Path:
        """The run's folder relative to each side's working directory."""
        return Path(self.results_dir or DEFAULT_RESULTS_DIR) / self.run_id

    def __repr__(self) -> str:
        return f"MetricsStorage({self.run_id!r}, {self.results_dir!r})"


def _read_metrics(store: Any, use_cache: bool) -> Any:
    """get_run_metrics, passing use_cache only to a store that takes it (the baseline never caches)."""
    if "use_cache" in inspect.signature(store.get_run_metrics).parameters:
        return store.get_run_metrics(use_cache=use_cache)
    return store.get_run_metrics()


def _collector_state(collector: Any, export_path: Callable[[Any], Any]) -> dict[str, Any]:
    """What a save may not change about its collector, and the calls it made on it."""
    calls = [(name, tuple(map(export_path, args))) for name, args in getattr(collector, "calls", ())]
    return {
        "measurements": [
            (m.timestamp, m.metric_type, m.satellite_id, m.duration_ms, m.scenario_time_s)
            for m in collector.measurements
        ],
        "counts": dict(collector._measurement_log),
        "calls": calls,
    }


_UNIQUE_NS = itertools.count(time.time_ns())


class Differential:
    """Baseline and candidate side by side under root; every operation raises Mismatch when they differ."""

    def __init__(
        self, candidate_class: Any, root: Path, *, unique_mtimes: bool = False, foreign_collectors: bool = False
    ) -> None:
        self.rules = DivergenceRules(declared_divergences(candidate_class))
        # The candidate is fed its own collector class (its fast path), or with foreign_collectors=True
        # an identical class from elsewhere, which must give exactly the same output all the same.
        self.collector_class = foreign_collector_class() if foreign_collectors else collector_class_for(candidate_class)
        self.baseline = Side(BaselineStore, root / "baseline")
        self.candidate = Side(candidate_class, root / "candidate")
        self.unique_mtimes = unique_mtimes
        # A process-wide cache must not carry one example's files into the next: CannotReset where it cannot be cleared.
        reset(candidate_class)
        reset(BaselineStore)

    def _error_text(self, outcome: Outcome, side: Side) -> str | None:
        """The exception as str() shows it (errno, strerror and filename too), the side's own folder taken out."""
        if outcome.error is None:
            return None
        return str(outcome.error).replace(str(side.root), "<root>")

    def _compare(
        self, operation: str, call: str, b: Outcome, c: Outcome, view: Callable[[Any], Any] = lambda value: value
    ) -> None:
        if (type(b.error), self._error_text(b, self.baseline)) != (type(c.error), self._error_text(c, self.candidate)):
            raise Mismatch(operation, call, f"baseline {b}; candidate {c}", b, c)
        if b.error is None:
            difference = first_difference(view(b.value), view(c.value))
            if difference is not None:
                raise Mismatch(operation, call, f"{difference}\n  baseline {b}\n  candidate {c}", b, c)
        if b.stdout != c.stdout:
            raise Mismatch(operation, call, f"the baseline printed {b.stdout!r}, the candidate {c.stdout!r}", b, c)

    @staticmethod
    def _expect_refusal(operation: str, call: str, c: Outcome) -> None:
        if not isinstance(c.error, ValueError) or c.stdout:
            detail = f"run-id-validated: the candidate must raise ValueError and print nothing; it {c}"
            raise Mismatch(operation, call, detail, candidate=c)

    def _stamp(self, relative: Path) -> None:
        """Gives a just-written file the same new mtime on both sides, so a trusting cache sees the change."""
        if not self.unique_mtimes:
            return
        ns = next(_UNIQUE_NS)
        for side in (self.baseline, self.candidate):
            path = side.root / relative
            if path.is_file():
                os.utime(path, ns=(ns, ns))

    def create_store(self, run_id: str, results_dir: str | None) -> StorePair | None:
        """Builds the store on both sides; None when both refused it the same way."""
        args = (run_id,) if results_dir is None else (run_id, results_dir)
        call = f"MetricsStorage{args!r}"
        if self.rules.refuses(run_id):
            self._expect_refusal("MetricsStorage", call, self.candidate.run(lambda: self.candidate.store_class(*args)))
            return None
        b = self.baseline.run(lambda: BaselineStore(*args))
        c = self.candidate.run(lambda: self.candidate.store_class(*args))
        self._compare("MetricsStorage", call, b, c, view=lambda store: (store.run_id, store.metrics_dir))
        return None if b.error else StorePair(run_id, results_dir, b.value, c.value)

    def save(self, pair: StorePair, collector: Any) -> None:
        """save_latency_stats on a copy of collector each; the collectors must come out the same too.

        Both sides are fed the candidate's collector class: a collector that changed at a revision is judged on its
        own (tests/store/test_collector_answers.py), never blamed on the store.
        """
        call = f"{pair!r}.save_latency_stats(...)"
        b_collector = recast(copy.deepcopy(collector), self.collector_class)
        c_collector = recast(copy.deepcopy(collector), self.collector_class)
        places = self.rules.prepare_save(self.baseline.root / pair.folder, self.candidate.root / pair.folder)
        b = self.baseline.run(lambda: pair.baseline.save_latency_stats(b_collector))
        c = self.candidate.run(lambda: pair.candidate.save_latency_stats(c_collector))
        self._compare("save_latency_stats", call, b, c)
        difference = first_difference(
            _collector_state(b_collector, lambda path: path),
            _collector_state(c_collector, self.rules.export_path_as_baseline),
        )
        if difference is not None:
            raise Mismatch("save_latency_stats", call, f"the collector was used differently: {difference}")
        if b.error is not None:
            self.rules.settle_failed_save(call, places)
        self._stamp(pair.folder / SUMMARY_NAME)

    def get_run_metrics(self, pair: StorePair, use_cache: bool = True) -> tuple[Any, Any]:
        """Both answers, for a caller that goes on to change them."""
        call = f"{pair!r}.get_run_metrics(use_cache={use_cache})"
        with self.rules.baseline_reads():
            b = self.baseline.run(lambda: pair.baseline.get_run_metrics())
        c = self.candidate.run(lambda: _read_metrics(pair.candidate, use_cache))
        self._compare("get_run_metrics", call, b, c)
        return b.value, c.value

    def compare_runs(self, pair: StorePair, other_run_id: str) -> tuple[Any, Any]:
        call = f"{pair!r}.compare_runs({other_run_id!r})"
        if self.rules.refuses(other_run_id):
            refusal = self.candidate.run(lambda: pair.candidate.compare_runs(other_run_id))
            self._expect_refusal("compare_runs", call, refusal)
            return None, None
        with self.rules.baseline_compare_lookup(pair.results_dir or DEFAULT_RESULTS_DIR), self.rules.baseline_reads():
            b = self.baseline.run(lambda: pair.baseline.compare_runs(other_run_id))
        c = self.candidate.run(lambda: pair.candidate.compare_runs(other_run_id))
        self._compare("compare_runs", call, b, c)
        return b.value, c.value

    def get_recent_runs(self, results_dir: str | None, limit: int | None = None) -> None:
        args = () if results_dir is None else (results_dir,)
        kwargs = {} if limit is None else {"limit": limit}
        call = f"get_recent_runs({', '.join([*map(repr, args), *(f'limit={limit!r}' for limit in kwargs.values())])})"
        b = self.baseline.run(lambda: BaselineStore.get_recent_runs(*args, **kwargs))
        c = self.candidate.run(lambda: self.candidate.store_class.get_recent_runs(*args, **kwargs))
        self._compare("get_recent_runs", call, b, c)

    def delete_folder(self, relative: Path) -> None:
        """Another process removes a run's folder (a link at its place is unlinked, not followed).

        The folder a run id such as ".." or "../escape" names is removed by its resolved path: removed through
        "results/..", the tree walk deletes "results" itself before the last rmdir, which then finds no path.
        """
        for side in (self.baseline, self.candidate):
            path = side.root / relative
            if path.is_symlink():
                path.unlink()
            elif path.is_dir() and side.root.resolve() in (target := path.resolve()).parents:
                shutil.rmtree(target)

    def edit_from_outside(self, relative: Path, edit: Any) -> None:
        """The same outside edit (edit.apply(path)) to the same file on both sides."""
        for side in (self.baseline, self.candidate):
            edit.apply(side.root / relative)
        self._stamp(relative)

    def build(self, relative_dir: Path, tree: Any) -> None:
        """tree.build(folder) on both sides: a result tree, or one entry of one."""
        written = tree.build(self.baseline.root / relative_dir)
        tree.build(self.candidate.root / relative_dir)
        for path in written:
            self._stamp(path.relative_to(self.baseline.root))

    def assert_same_trees(self, after: str = "") -> None:
        difference = tree_difference(snapshot(self.baseline.root), snapshot(self.candidate.root))
        if difference is not None:
            raise Mismatch("files", after or "the files on disk", difference)


# --- conditions a test runs under ----------------------------------------------------------------


@contextlib.contextmanager
def frozen_clocks(candidate_class: Any) -> Iterator[None]:
    """The baseline's and the candidate's clocks stopped at the same instant, so timestamps match."""
    representatives = {}
    for cls in (BaselineStore, *candidate_class.__mro__):
        module = sys.modules.get(cls.__module__)
        if module is not None and getattr(module, "datetime", None) is datetime:
            representatives[module.__name__] = cls
    if not any(cls in candidate_class.__mro__ for cls in representatives.values()):
        raise LookupError(
            f"{candidate_class.__module__}.{candidate_class.__qualname__}: no module-level datetime to stop, "
            "so its timestamps cannot match the baseline's"
        )
    with pytest.MonkeyPatch.context() as patch:
        for cls in representatives.values():
            freeze_clock(patch, cls)
        yield


def _one_second_stat(real_stat: Callable[..., os.stat_result]) -> Callable[..., os.stat_result]:
    def stat_in_whole_seconds(*args: Any, **kwargs: Any) -> os.stat_result:
        st = real_stat(*args, **kwargs)
        a, m, c = (ns - ns % 1_000_000_000 for ns in (st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns))
        seconds = (a // 1_000_000_000, m // 1_000_000_000, c // 1_000_000_000)
        hidden = {
            "st_atime": float(seconds[0]),
            "st_mtime": float(seconds[1]),
            "st_ctime": float(seconds[2]),
            "st_atime_ns": a,
            "st_mtime_ns": m,
            "st_ctime_ns": c,
            "st_blksize": st.st_blksize,
            "st_blocks": st.st_blocks,
            "st_rdev": st.st_rdev,
        }
        return os.stat_result((*st[:7], *seconds), hidden)

    return stat_in_whole_seconds


FILE_TIMES = ("as-is", "one-second", "cache-trusts-at-once")


@contextlib.contextmanager
def side_by_side(
    candidate_class: Any, condition: str = "as-is", *, foreign_collectors: bool = False
) -> Iterator[Differential]:
    """A fresh Differential for one example: temporary folders, stopped clocks, the given file times."""
    with (
        tempfile.TemporaryDirectory(prefix="differential-") as root,
        frozen_clocks(candidate_class),
        file_times(condition, candidate_class),
    ):
        yield Differential(
            candidate_class,
            Path(root),
            unique_mtimes=condition == "cache-trusts-at-once",
            foreign_collectors=foreign_collectors,
        )


@contextlib.contextmanager
def file_times(condition: str, candidate_class: Any) -> Iterator[None]:
    """How file times look to the stores.

    as-is: this file system's own times.
    one-second: os.stat reports whole seconds, as FAT, HFS+ or old ext3 do: a rewrite in the same
        second keeps size and times, and a cache must not be fooled.
    cache-trusts-at-once: the optimized store's racy window closed, so its cache serves files at once;
        Differential(unique_mtimes=True) then gives every write a new mtime, as time passing would.
    """
    with pytest.MonkeyPatch.context() as patch:
        if condition == "one-second":
            patch.setattr(os, "stat", _one_second_stat(os.stat))
        elif condition == "cache-trusts-at-once":
            module = module_with(candidate_class, "_RACY_WINDOW_NS")
            if module is None:
                pytest.skip(f"{candidate_class.__module__} has no racy window to close")
            patch.setattr(module, "_RACY_WINDOW_NS", 0)
        elif condition != "as-is":
            raise ValueError(f"unknown file-time condition {condition!r}: use one of {FILE_TIMES}")
        yield
