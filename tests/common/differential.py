"""The differential harness: each step runs on the baseline and on a candidate, and must come out the same.

Each side has its own folder and working directory and uses the same relative paths, so even the
baseline's printed errors match. A candidate's declared DIVERGENCES are honoured here, in
DivergenceRules, and nowhere else: a candidate that declares none is compared strictly.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import inspect
import io
import itertools
import math
import os
import re
import shutil
import stat
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
from tests.common.strategies import DEFAULT_RESULTS_DIR, RAW_NAME, SUMMARY_NAME, is_one_folder_name

BaselineStore = storage.baseline.MetricsStorage

_SHOWN_CHARS = 400


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}... ({len(text)} chars)"


class Mismatch(AssertionError):
    """The candidate did what the baseline did not, and no declared divergence allows it."""

    def __init__(
        self, operation: str, call: str, detail: str, baseline: Outcome | None = None, candidate: Outcome | None = None
    ) -> None:
        super().__init__(f"{call}: {detail}")
        self.operation = operation  # e.g. "get_recent_runs", or "files" for what was left on disk
        self.call = call
        self.baseline = baseline
        self.candidate = candidate


# --- comparing values ----------------------------------------------------------------------------


def first_difference(baseline: Any, candidate: Any, where: str = "") -> str | None:
    """Where two answers differ, or None: == throughout, except NaN equals NaN and -0.0 is not 0.0.

    Types must match exactly; dicts compare as mappings (compare_runs builds one from a set).
    """
    if type(baseline) is not type(candidate):
        b_type, c_type = type(baseline).__name__, type(candidate).__name__
        return f"{where or 'value'}: {b_type} {_short(baseline)} != {c_type} {_short(candidate)}"
    if isinstance(baseline, float):
        if math.isnan(baseline) and math.isnan(candidate):
            return None
        if baseline == candidate and math.copysign(1.0, baseline) == math.copysign(1.0, candidate):
            return None
        return f"{where or 'value'}: {baseline!r} != {candidate!r}"
    if isinstance(baseline, dict):
        if baseline.keys() != candidate.keys():
            only_b = sorted(map(repr, baseline.keys() - candidate.keys()))
            only_c = sorted(map(repr, candidate.keys() - baseline.keys()))
            return f"{where or 'value'}: keys only in the baseline's {only_b}, only in the candidate's {only_c}"
        for key in baseline:
            difference = first_difference(baseline[key], candidate[key], f"{where}[{key!r}]")
            if difference is not None:
                return difference
        return None
    if isinstance(baseline, list | tuple):
        if len(baseline) != len(candidate):
            return f"{where or 'value'}: {_short(baseline)} != {_short(candidate)}"
        for i, (b, c) in enumerate(zip(baseline, candidate, strict=True)):
            difference = first_difference(b, c, f"{where}[{i}]")
            if difference is not None:
                return difference
        return None
    return None if baseline == candidate else f"{where or 'value'}: {_short(baseline)} != {_short(candidate)}"


@dataclass(frozen=True)
class Outcome:
    """What one call did: its answer or its exception, and what it printed."""

    value: Any
    error: Exception | None
    stdout: str

    def __str__(self) -> str:
        done = f"raised {type(self.error).__name__}({self.error})" if self.error else f"returned {_short(self.value)}"
        return f"{done}, printed {self.stdout!r}" if self.stdout else done


# --- comparing files -----------------------------------------------------------------------------

Entry = tuple[Any, ...]  # ("dir", mode) | ("file", mode, bytes) | ("link", target) | ("other", type)


def entry_at(path: Path) -> Entry | None:
    """What is at path, without following a link; None when nothing is."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return ("dir", stat.S_IMODE(st.st_mode))
    if stat.S_ISREG(st.st_mode):
        return ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
    return ("other", stat.S_IFMT(st.st_mode))


def _raise(error: OSError) -> None:
    raise error


def snapshot(root: Path) -> dict[str, Entry | None]:
    """Every file, folder and link below root, by relative path, with modes and contents (times left out)."""
    entries = {}
    for folder, dirnames, filenames in os.walk(root, onerror=_raise):  # links are listed, never entered
        for name in dirnames + filenames:
            path = Path(folder, name)
            entries[str(path.relative_to(root))] = entry_at(path)
    return entries


def _kind_of(entry: Entry | None) -> str:
    return "nothing" if entry is None else _short(entry[:2])


def _entry_difference(baseline: Entry | None, candidate: Entry | None) -> str:
    if baseline and candidate and baseline[0] == candidate[0] == "file" and baseline[2] != candidate[2]:
        b, c = baseline[2], candidate[2]
        at = next((i for i, (x, y) in enumerate(zip(b, c, strict=False)) if x != y), min(len(b), len(c)))
        return (
            f"bytes differ from offset {at} ({len(b)} vs {len(c)} bytes): "
            f"baseline {b[max(0, at - 30) : at + 50]!r}, candidate {c[max(0, at - 30) : at + 50]!r}"
        )
    return f"baseline has {_kind_of(baseline)}, candidate has {_kind_of(candidate)}"


def tree_difference(baseline: dict[str, Entry | None], candidate: dict[str, Entry | None]) -> str | None:
    if baseline == candidate:
        return None
    lines = [
        f"  {path}: {_entry_difference(baseline.get(path), candidate.get(path))}"
        for path in sorted(baseline.keys() | candidate.keys())
        if baseline.get(path) != candidate.get(path)
    ]
    return "files left behind differ:\n" + "\n".join(lines[:12])


def _put_entry(path: Path, entry: Entry | None) -> None:
    """Makes path hold entry (a file or a link; folders are never replaced)."""
    current = entry_at(path)
    if current == entry:
        return
    if current is not None and current[0] != "dir":
        path.unlink()
    if entry is None or entry[0] == "dir":
        return
    if entry[0] == "link":
        path.symlink_to(entry[1])
    else:
        path.write_bytes(entry[2])
        path.chmod(entry[1])


# --- the divergences a candidate declares --------------------------------------------------------

HANDLED_DIVERGENCES = {
    "compare-runs-own-results-dir": "compare_runs: the baseline is shown the other run where the candidate looks",
    "run-id-validated": "a run id that is not one folder name must raise ValueError; the baseline is not asked",
    "atomic-save": "a failed save may leave the previous files; links at the files' places are replaced",
    "export-csv-temp-path": "an overridden export_csv may be given the temporary path beside the CSV",
    # Declared, and never arising from these scenarios: the reliability tests pin them.
    "save-needs-writable-run-folder": "never arises: no scenario makes a folder read-only (and root ignores modes)",
    "summary-must-be-an-object": "the baseline's get_run_metrics is made to refuse a non-object as the candidate does",
    "summary-read-bounded": "never arises: no scenario makes a summary over 16 MiB, a FIFO or a device",
    "cached-metrics-interface": "never arises: no scenario touches _cached_metrics (tests/store/test_divergences.py)",
}


def declared_divergences(candidate_class: type) -> frozenset[str]:
    """The ids in the DIVERGENCES of the module defining the candidate (none: compared strictly)."""
    declared = frozenset(getattr(sys.modules[candidate_class.__module__], "DIVERGENCES", {}))
    unknown = sorted(declared - HANDLED_DIVERGENCES.keys())
    if unknown:
        raise LookupError(
            f"{candidate_class.__module__} declares divergences the harness cannot allow yet: {unknown}; "
            "add each to HANDLED_DIVERGENCES and DivergenceRules in tests/common/differential.py"
        )
    return declared


def _store_without_folder(run_id: str, results_dir: str) -> Any:
    """A baseline store looking under results_dir that has not created its folder."""
    store = object.__new__(BaselineStore)
    store.run_id = run_id
    store.metrics_dir = Path(results_dir) / run_id
    return store


_TEMP_RAW = re.compile(r"(?P<folder>.*/)?\.latency_raw\.csv\.[0-9a-f]+\.tmp", re.DOTALL)


@dataclass(frozen=True)
class SavePlaces:
    """The two files a save writes, as they were before it on each side."""

    baseline: dict[Path, Entry | None]
    candidate: dict[Path, Entry | None]


class DivergenceRules:
    """Every adaptation the harness makes for a declared divergence, each keyed by its id."""

    def __init__(self, declared: frozenset[str]) -> None:
        self.declared = declared

    def refuses(self, run_id: Any) -> bool:
        """run-id-validated: the candidate must refuse this id with ValueError."""
        return "run-id-validated" in self.declared and isinstance(run_id, str) and not is_one_folder_name(run_id)

    @contextlib.contextmanager
    def baseline_compare_lookup(self, results_dir: str) -> Iterator[None]:
        """compare-runs-own-results-dir: the baseline's compare_runs reads the other run under results_dir."""
        if "compare-runs-own-results-dir" not in self.declared:
            yield
            return
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(storage.baseline, "MetricsStorage", lambda run_id: _store_without_folder(run_id, results_dir))
            yield

    @contextlib.contextmanager
    def baseline_reads(self) -> Iterator[None]:
        """summary-must-be-an-object: the baseline's reads refuse a summary that is not a JSON object."""
        if "summary-must-be-an-object" not in self.declared:
            yield
            return
        from storage.optimized import not_an_object

        original = BaselineStore.get_run_metrics

        def refusing(store: Any) -> Any:
            value = original(store)
            reason = not_an_object(value)
            if reason is None:
                return value
            print(f"[ERROR] Failed to load metrics from {store.metrics_dir / SUMMARY_NAME}: {reason}")
            return None

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(BaselineStore, "get_run_metrics", refusing)
            yield

    def prepare_save(self, baseline_folder: Path, candidate_folder: Path) -> SavePlaces | None:
        """atomic-save: notes both sides' files; unlinks the baseline's links (replaced, not written through)."""
        if "atomic-save" not in self.declared:
            return None
        b_places = [baseline_folder / SUMMARY_NAME, baseline_folder / RAW_NAME]
        c_places = [candidate_folder / SUMMARY_NAME, candidate_folder / RAW_NAME]
        places = SavePlaces({p: entry_at(p) for p in b_places}, {p: entry_at(p) for p in c_places})
        for path, entry in places.baseline.items():
            if entry is not None and (entry[0] == "link" or (entry[0] == "file" and path.stat().st_nlink > 1)):
                path.unlink()
        return places

    def settle_failed_save(self, call: str, places: SavePlaces | None) -> None:
        """atomic-save: after a save failed on both sides, each file is the previous one or the baseline's.

        The baseline's side is then given the candidate's files, so later steps start from the same state.
        """
        if places is None:
            return
        for (b_path, _), (c_path, c_before) in zip(places.baseline.items(), places.candidate.items(), strict=True):
            b_after, c_after = entry_at(b_path), entry_at(c_path)
            if c_after not in (c_before, b_after):
                raise Mismatch(
                    "save_latency_stats",
                    call,
                    f"atomic-save: after a failed save {c_path.name} must be the previous file or the baseline's; "
                    f"before {_short(c_before)}, baseline left {_short(b_after)}, candidate left {_short(c_after)}",
                )
            _put_entry(b_path, c_after)

    def export_path_as_baseline(self, path: Any) -> Any:
        """export-csv-temp-path: the temporary path an override is given stands for the final one."""
        if "export-csv-temp-path" not in self.declared or not isinstance(path, str):
            return path
        match = _TEMP_RAW.fullmatch(path)
        return path if match is None else (match["folder"] or "") + RAW_NAME


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
    converted = collector_class.__new__(collector_class)
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
        for module in {sys.modules[candidate_class.__module__], storage.baseline}:
            clear = getattr(module, "clear_summary_cache", None)
            if clear is not None:
                clear()  # a process-wide cache must not carry one example's files into the next

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
        """save_latency_stats on a copy of collector each; the collectors must come out the same too."""
        call = f"{pair!r}.save_latency_stats(...)"
        b_collector, c_collector = copy.deepcopy(collector), recast(copy.deepcopy(collector), self.collector_class)
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
        """Another process removes a run's folder (a link at its place is unlinked, not followed)."""
        for side in (self.baseline, self.candidate):
            path = side.root / relative
            if path.is_symlink():
                path.unlink()
            elif path.is_dir() and side.root.resolve() in path.resolve().parents:
                shutil.rmtree(path)

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
            module = sys.modules[candidate_class.__module__]
            if not hasattr(module, "_RACY_WINDOW_NS"):
                pytest.skip(f"{module.__name__} has no racy window to close")
            patch.setattr(module, "_RACY_WINDOW_NS", 0)
        elif condition != "as-is":
            raise ValueError(f"unknown file-time condition {condition!r}: use one of {FILE_TIMES}")
        yield
