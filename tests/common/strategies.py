"""Hypothesis strategies for the equivalence suite: every input a store is given, drawn in one place.

A strategy draws a description (a collector recipe, a result tree, an outside edit) whose repr reads
as a counterexample; its build() or apply() makes the real thing, the same on both sides.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from storage.latency import LatencyCollector, LatencyMeasurement

# The original's layout on disk: what every candidate reads and writes.
SUMMARY_NAME = "latency_summary.json"
RAW_NAME = "latency_raw.csv"
DEFAULT_RESULTS_DIR = "astraguard/hil/results"

RECORD_METHODS = ("record_fault_detection", "record_agent_decision", "record_recovery_action")
RECORDED_TYPES = ("fault_detection", "agent_decision", "recovery_action")

# --- numbers and text ----------------------------------------------------------------------------

_AWKWARD_NUMBERS = (
    0.0,
    -0.0,
    math.nan,
    -math.nan,
    math.inf,
    -math.inf,
    5e-324,
    -5e-324,
    sys.float_info.min,
    sys.float_info.max,
    -sys.float_info.max,
    0.1,
    0.2,
    0.3,
    1.0,
    1e16,
    -1e16,
    2.0**53,
    2**53 + 1,
    10**400,  # too large for a float: a mean over it and a float overflows
    0,
    -1,
    True,
)


# Values whose sum depends on the order they are added in (or overflows in one order only).
_ORDER_SENSITIVE_POOLS = (
    (1e16, 1.0, -1e16),
    (2.0**53, 1.0, -(2.0**53), 3.0),
    (0.1, 0.7, 0.2, 1e-17),
    (1e308, 1e308, -1e308),
    (-0.0, 0.0, math.nan),
)


def numbers() -> st.SearchStrategy[Any]:
    """Durations and times: the whole float range with the IEEE-754 specials, and ints (bool included).

    Ordinary latencies come first: a mean over one NaN or inf is NaN or inf whatever the code does.
    """
    ordinary = st.one_of(st.floats(0, 1000), st.integers(0, 1000))
    return st.one_of(ordinary, st.sampled_from(_AWKWARD_NUMBERS), st.floats(), st.integers())


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_TRICKY_TEXT = (
    "",
    " ",
    "a",
    "A",
    "fault_detection",
    "Fault_Detection",
    "FAULT_DETECTION",
    "sat-1",
    "SAT-1",
    ",",
    '"',
    "'",
    "a,b",
    'say "hi"',
    "line\nbreak",
    "cr\r\nlf",
    "\t",
    "é",
    "É",
    "ß",
    "SS",
    "ǅ",
    "İ",
    "🛰️",
    "\x00",
    "\ud800",  # a lone surrogate: UTF-8 cannot write it
    "NaN",
    "-0",
)


def texts(*, writable: bool = False) -> st.SearchStrategy[str]:
    """Arbitrary text, weighted towards what breaks CSV, JSON and case-insensitive code.

    writable=True leaves out what UTF-8 cannot encode, for inputs that must save without error.
    """
    drawn = st.one_of(
        st.sampled_from(_TRICKY_TEXT),
        st.text(max_size=12),
        st.text(st.characters(codec=None), max_size=6),
        st.text(alphabet=",\"'\n\r aAbBßé", max_size=6),
    )
    return drawn.filter(_encodable) if writable else drawn


def _case_variants(text: str) -> tuple[str, ...]:
    return (text.upper(), text.lower(), text.swapcase(), text.casefold())


@st.composite
def text_pools(draw: st.DrawFn, *, writable: bool = False) -> tuple[str, ...]:
    """A few names plus some of their case variants, so that names differing only in case meet."""
    base = draw(st.lists(texts(writable=writable), min_size=1, max_size=4))
    variants = [v for text in base for v in _case_variants(text)]
    return tuple(base + draw(st.lists(st.sampled_from(variants), max_size=3)))


def is_one_folder_name(text: str) -> bool:
    """Not empty, '.' or '..', no slash or NUL, at most 255 bytes: one entry of one folder.

    Text the file system cannot encode passes: what it is refused for is not its shape.
    """
    if text in ("", ".", "..") or "/" in text or "\0" in text:
        return False
    try:
        return len(os.fsencode(text)) <= 255
    except UnicodeEncodeError:
        return True


def _can_name_an_entry(text: str) -> bool:
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        return False
    return is_one_folder_name(text)


def entry_names() -> st.SearchStrategy[str]:
    """Names of entries in a results folder: mixed case, unicode, digits that sort differently as text."""
    return st.one_of(
        st.sampled_from(("run1", "Run1", "RUN1", "run2", "run10", "run_9", "a", "B", "é", "latency_summary.json")),
        texts(),
    ).filter(_can_name_an_entry)


_ODD_RUN_IDS = ("", ".", "..", "a/b", "../escape", "nested/run", "run\x00id", "x" * 255, "x" * 256, "é" * 128, "\ud800")


def run_ids() -> st.SearchStrategy[str]:
    """Run ids: mostly single names, and the odd ones a store may join onto its folder as given.

    Only the curated ids hold a slash: drawn text never names an absolute path or climbs out of the
    test's own folder.
    """
    return st.one_of(st.sampled_from(_ODD_RUN_IDS), texts().filter(lambda text: "/" not in text))


def results_dirs() -> st.SearchStrategy[str | None]:
    """Where a store keeps its runs; None is the default folder, relative to the working directory."""
    return st.sampled_from((None, "results", "results/", "./results", "nested/results"))


def listing_dirs() -> st.SearchStrategy[str | None]:
    """What get_recent_runs may be asked to list: store folders, a missing one, a file, the cwd."""
    return st.one_of(results_dirs(), st.sampled_from(("missing", "results/latency_summary.json", ".", "")))


def limits() -> st.SearchStrategy[int]:
    return st.integers(min_value=-2, max_value=14)


# --- collectors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One record_* call."""

    method: str
    sat_id: str
    scenario_time_s: Any
    duration_ms: Any

    def apply(self, collector: LatencyCollector) -> None:
        getattr(collector, self.method)(self.sat_id, self.scenario_time_s, self.duration_ms)


@dataclass(frozen=True)
class Append:
    """A measurement appended straight onto collector.measurements: in the stats, not in the counts."""

    timestamp: Any
    metric_type: str
    satellite_id: str
    duration_ms: Any
    scenario_time_s: Any

    def apply(self, collector: LatencyCollector) -> None:
        measurement = LatencyMeasurement(
            self.timestamp, self.metric_type, self.satellite_id, self.duration_ms, self.scenario_time_s
        )
        collector.measurements.append(measurement)


@dataclass(frozen=True)
class Bulk:
    """`count` records and appends picked from the pools by a seeded generator: thousands, cheaply."""

    count: int
    seed: int
    sat_ids: tuple[str, ...]
    metric_types: tuple[str, ...]
    values: tuple[Any, ...]

    def apply(self, collector: LatencyCollector) -> None:
        rng = random.Random(self.seed)
        for _ in range(self.count):
            sat_id, duration, scenario = rng.choice(self.sat_ids), rng.choice(self.values), rng.choice(self.values)
            if rng.random() < 0.75:
                getattr(collector, rng.choice(RECORD_METHODS))(sat_id, scenario, duration)
            else:
                metric_type = rng.choice(self.metric_types)
                collector.measurements.append(
                    LatencyMeasurement(rng.choice(self.values), metric_type, sat_id, duration, scenario)
                )


@dataclass(frozen=True)
class Returns:
    """An override that returns this value (a fresh copy on every call)."""

    value: Any

    def __call__(self, inherited: Callable[[], Any], *args: Any) -> Any:
        return copy.deepcopy(self.value)


@dataclass(frozen=True)
class Raises:
    """An override that raises before doing anything."""

    error: type[Exception]

    def __call__(self, inherited: Callable[[], Any], *args: Any) -> Any:
        raise self.error(f"scripted {self.error.__name__}")


@dataclass(frozen=True)
class SetsKey:
    """An override that calls the inherited method, then sets one key of the dict it returns."""

    key: Any
    value: Any

    def __call__(self, inherited: Callable[[], Any], *args: Any) -> Any:
        result = inherited()
        result[self.key] = copy.deepcopy(self.value)
        return result


@dataclass(frozen=True)
class WritesText:
    """An export_csv override that writes its own text, then maybe fails (leaving the text written)."""

    text: str
    then_raises: type[Exception] | None = None

    def __call__(self, inherited: Callable[[], Any], filename: str) -> None:
        with open(filename, "w", newline="") as f:
            f.write(self.text)
        if self.then_raises is not None:
            raise self.then_raises("scripted failure after writing")


@dataclass(frozen=True)
class WritesNothing:
    """An export_csv override that creates no file at all."""

    def __call__(self, inherited: Callable[[], Any], filename: str) -> None:
        return None


class ScriptedCollector(LatencyCollector):
    """A subclass whose methods do what its script says (else what they inherit), logging every call."""

    # Slots, not __dict__ entries: the instance dict looks like a plain collector's, so only its type tells.
    __slots__ = ("calls", "script")

    def __init__(self, script: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__()
        self.script = dict(script)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _act(self, name: str, inherited: Callable[[], Any], *args: Any) -> Any:
        self.calls.append((name, args))
        behaviour = self.script.get(name)
        return inherited() if behaviour is None else behaviour(inherited, *args)

    def get_stats(self) -> Any:
        return self._act("get_stats", super().get_stats)

    def get_stats_by_satellite(self) -> Any:
        return self._act("get_stats_by_satellite", super().get_stats_by_satellite)

    def get_summary(self) -> Any:
        return self._act("get_summary", super().get_summary)

    def export_csv(self, filename: str) -> None:
        return self._act("export_csv", partial(super().export_csv, filename), filename)


@dataclass(frozen=True)
class CollectorRecipe:
    """How to build one collector: its class (plain, or scripted with overrides) and its steps."""

    steps: tuple[Record | Append | Bulk, ...]
    script: tuple[tuple[str, Any], ...] | None = None  # None: a plain LatencyCollector

    def build(self) -> LatencyCollector:
        collector = LatencyCollector() if self.script is None else ScriptedCollector(dict(self.script))
        for step in self.steps:
            step.apply(collector)
        return collector


def json_like(*, writable: bool = False, odd: bool = False) -> st.SearchStrategy[Any]:
    """JSON-ish trees with non-str keys and tuples.

    odd=True adds what json.dumps only str()s (decimals) or refuses (tuple keys: TypeError).
    """
    leaves = st.one_of(st.none(), st.booleans(), numbers(), texts(writable=writable))
    keys = st.one_of(texts(writable=writable), st.integers(), st.floats(), st.booleans(), st.none())
    if odd:
        leaves = st.one_of(leaves, st.decimals())
        keys = st.one_of(keys, st.tuples(st.integers()))
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.tuples(inner), st.dictionaries(keys, inner, max_size=3)
        ),
        max_leaves=8,
    )


_OVERRIDE_ERRORS = (OSError, ValueError, RuntimeError, KeyError, PermissionError)


@st.composite
def _scripts(draw: st.DrawFn, *, can_fail: bool) -> tuple[tuple[str, Any], ...]:
    values = json_like(writable=not can_fail, odd=can_fail)
    dict_results = st.dictionaries(texts(writable=not can_fail), values, max_size=4)
    stats_behaviours = [st.none(), st.builds(Returns, values)]
    summary_behaviours = [
        st.none(),
        st.builds(Returns, dict_results),
        st.builds(SetsKey, st.sampled_from(("measurement_types", "stats_by_satellite", "extra")), values),
    ]
    export_behaviours = [st.none(), st.builds(WritesNothing), st.builds(WritesText, texts(writable=True))]
    if can_fail:
        errors = st.sampled_from(_OVERRIDE_ERRORS)
        stats_behaviours.append(st.builds(Raises, errors))
        summary_behaviours += [st.builds(Raises, errors), st.builds(Returns, values)]
        export_behaviours += [st.builds(Raises, errors), st.builds(WritesText, texts(), errors)]
    script = {
        "get_stats": draw(st.one_of(stats_behaviours)),
        "get_summary": draw(st.one_of(summary_behaviours)),
        "export_csv": draw(st.one_of(export_behaviours)),
    }
    return tuple((name, behaviour) for name, behaviour in script.items() if behaviour is not None)


@st.composite
def collectors(draw: st.DrawFn, *, max_measurements: int = 3000, can_fail: bool = True) -> CollectorRecipe:
    """Collectors built by any mix of record_* calls and direct appends, 0 to max_measurements of them.

    Half are ScriptedCollector subclasses overriding get_stats, get_summary or export_csv.
    can_fail=False keeps to collectors whose files can be written (UTF-8 text, no failing export):
    a statistic may still raise, before anything is written.
    """
    writable = not can_fail
    sat_ids = draw(text_pools(writable=writable))
    metric_types = draw(text_pools(writable=writable))
    values = tuple(
        draw(st.one_of(st.lists(numbers(), min_size=1, max_size=6), st.sampled_from(_ORDER_SENSITIVE_POOLS)))
    )
    pooled_names = st.one_of(st.sampled_from(sat_ids + metric_types), texts(writable=writable))
    pooled_numbers = st.one_of(st.sampled_from(values), numbers())
    step = st.one_of(
        st.builds(Record, st.sampled_from(RECORD_METHODS), pooled_names, pooled_numbers, pooled_numbers),
        st.builds(Append, pooled_numbers, pooled_names, pooled_names, pooled_numbers, pooled_numbers),
        st.builds(
            Bulk,
            st.integers(0, max_measurements),
            st.integers(0, 2**32 - 1),
            st.just(sat_ids),
            st.just(metric_types),
            st.just(values),
        ),
    )
    steps = tuple(draw(st.lists(step, max_size=6)))
    script = draw(st.one_of(st.none(), _scripts(can_fail=can_fail)))
    return CollectorRecipe(steps, script)


# --- files on disk -------------------------------------------------------------------------------


def summary_texts() -> st.SearchStrategy[bytes]:
    """Summary file contents: shaped like a saved summary, other JSON, and bytes that are not JSON."""
    metric_types = st.one_of(st.sampled_from(RECORDED_TYPES), texts())  # recorded types: a saved run has them
    stats_entry = st.fixed_dictionaries(
        {}, optional={"mean_ms": numbers(), "p95_ms": numbers(), "count": st.integers(0, 9), "odd": json_like()}
    )
    summary = st.fixed_dictionaries(
        {"run_id": texts()},
        optional={
            "stats": st.one_of(
                st.dictionaries(metric_types, st.one_of(stats_entry, json_like()), max_size=4), json_like()
            ),
            "total_measurements": st.integers(0, 10),
        },
    )
    as_json = st.one_of(summary, json_like()).map(lambda doc: json.dumps(doc, indent=2, default=str).encode())
    broken = st.sampled_from((b"", b"{", b"\xff\xfe{}", b"null", b"[]", b"0", b'"x"', b"NaN", b"{}", b"[1, 2]"))
    return st.one_of(as_json, broken, st.binary(max_size=24))


ENTRY_KINDS = (
    "run",
    "run-with-raw",
    "folder-without-summary",
    "empty-folder",
    "plain-file",
    "summary-is-a-folder",
    "link-to-an-entry",
    "dangling-link",
    "link-loop",
)
LINK_KINDS = frozenset({"link-to-an-entry", "dangling-link", "link-loop"})


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a results folder; links point at a sibling by a relative name."""

    name: str
    kind: str
    mtime_s: int
    summary: bytes = b""
    target: str = ""

    def build(self, results_dir: Path) -> list[Path]:
        """Creates the entry; returns the summary files it wrote."""
        path = results_dir / self.name
        summary = path / SUMMARY_NAME
        written: list[Path] = []
        if self.kind in ("run", "run-with-raw"):
            path.mkdir()
            summary.write_bytes(self.summary)
            written.append(summary)
            if self.kind == "run-with-raw":
                (path / RAW_NAME).write_text("timestamp,metric_type,satellite_id,duration_ms,scenario_time_s\r\n")
        elif self.kind == "folder-without-summary":
            path.mkdir()
            (path / RAW_NAME).write_bytes(b"")
        elif self.kind == "empty-folder":
            path.mkdir()
        elif self.kind == "plain-file":
            path.write_bytes(self.summary)
        elif self.kind == "summary-is-a-folder":
            summary.mkdir(parents=True)
        elif self.kind == "link-to-an-entry":
            path.symlink_to(self.target)
        elif self.kind == "dangling-link":
            path.symlink_to(f"{self.name}.gone")
        elif self.kind == "link-loop":
            path.symlink_to(self.name)
        else:
            raise ValueError(f"unknown entry kind {self.kind!r}")
        stamp = self.mtime_s * 1_000_000_000
        for written_path in (*written, path):
            os.utime(written_path, ns=(stamp, stamp), follow_symlinks=False)
        return written


@dataclass(frozen=True)
class ResultTree:
    """A results folder whose names are not in modification-time order, with the clutter real ones gather."""

    entries: tuple[TreeEntry, ...]

    def build(self, results_dir: Path) -> list[Path]:
        results_dir.mkdir(parents=True, exist_ok=True)
        # Links last: a link to an entry is made after the entry, like in a real folder.
        ordered = sorted(self.entries, key=lambda entry: entry.kind in LINK_KINDS)
        return [path for entry in ordered for path in entry.build(results_dir)]


@st.composite
def tree_entries(draw: st.DrawFn, *, name: str | None = None, siblings: tuple[str, ...] = ()) -> TreeEntry:
    """One entry; a link points at one of `siblings` (or at itself when there are none)."""
    name = draw(entry_names()) if name is None else name
    kind = draw(st.sampled_from(ENTRY_KINDS))
    target = draw(st.sampled_from(siblings)) if siblings else name
    return TreeEntry(name, kind, draw(st.integers(1_600_000_000, 1_700_000_000)), draw(summary_texts()), target)


@st.composite
def result_trees(draw: st.DrawFn, *, max_entries: int = 12) -> ResultTree:
    names = draw(st.lists(entry_names(), max_size=max_entries, unique_by=os.fsencode))
    mtimes = draw(st.lists(st.integers(1_600_000_000, 1_700_000_000), min_size=len(names), max_size=len(names)))
    entries = []
    for name, mtime in zip(names, mtimes, strict=True):
        entry = draw(tree_entries(name=name, siblings=tuple(n for n in names if n != name)))
        entries.append(TreeEntry(entry.name, entry.kind, mtime, entry.summary, entry.target))
    return ResultTree(tuple(entries))


# --- edits from outside the store ----------------------------------------------------------------


def _regular_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


@dataclass(frozen=True)
class Rewrite:
    """Another process writes the file: in place (same inode) or through a new file and a rename."""

    content: bytes
    in_place: bool

    def apply(self, path: Path) -> None:
        if path.is_symlink() or not (path.parent.is_dir() and (_regular_file(path) or not path.exists())):
            return
        if self.in_place:
            path.write_bytes(self.content)
        else:
            fresh = path.with_name(path.name + ".outside")
            fresh.write_bytes(self.content)
            os.replace(fresh, path)


@dataclass(frozen=True)
class RewriteKeepingSize:
    """One digit changed in place: same inode, same size; only the file's times tell the change."""

    position: int
    shift: int

    def apply(self, path: Path) -> None:
        if not _regular_file(path):
            return
        data = bytearray(path.read_bytes())
        digits = [i for i, byte in enumerate(data) if 0x30 <= byte <= 0x39]
        if not digits:
            return
        i = digits[self.position % len(digits)]
        data[i] = 0x30 + (data[i] - 0x30 + self.shift) % 10
        with open(path, "r+b") as f:
            f.write(data)


@dataclass(frozen=True)
class Truncate:
    percent_kept: int

    def apply(self, path: Path) -> None:
        if _regular_file(path):
            os.truncate(path, path.stat().st_size * self.percent_kept // 100)


@dataclass(frozen=True)
class Overwrite:
    """Garbage written over part of the file, in place."""

    percent_offset: int
    garbage: bytes

    def apply(self, path: Path) -> None:
        if not _regular_file(path):
            return
        with open(path, "r+b") as f:
            f.seek(path.stat().st_size * self.percent_offset // 100)
            f.write(self.garbage)


@dataclass(frozen=True)
class Delete:
    def apply(self, path: Path) -> None:
        if path.is_symlink() or path.is_file():
            path.unlink()


def outside_edits() -> st.SearchStrategy[Rewrite | RewriteKeepingSize | Truncate | Overwrite | Delete]:
    return st.one_of(
        st.builds(Rewrite, summary_texts(), st.booleans()),
        st.builds(RewriteKeepingSize, st.integers(0, 10_000), st.integers(1, 9)),
        st.builds(Truncate, st.integers(0, 99)),
        st.builds(Overwrite, st.integers(0, 100), st.binary(min_size=1, max_size=8)),
        st.builds(Delete),
    )


# --- changes to a dict a store returned ----------------------------------------------------------


@dataclass(frozen=True)
class DictMutation:
    """What a caller might do to a dict it was given: clear it, set or drop a key, reach inside."""

    kind: str
    key: str
    value: Any

    def apply(self, target: dict[Any, Any]) -> None:
        if self.kind == "nested":
            # Deepest dict along the first dict-valued keys (sorted: both sides pick the same path).
            for _ in range(3):
                inner = [k for k in sorted(target, key=repr) if isinstance(target[k], dict)]
                if not inner:
                    break
                target = target[inner[0]]
        if self.kind == "clear":
            target.clear()
        elif self.kind == "drop" and target:
            del target[sorted(target, key=repr)[0]]
        else:
            target[self.key] = copy.deepcopy(self.value)


def dict_mutations() -> st.SearchStrategy[DictMutation]:
    return st.builds(
        DictMutation,
        st.sampled_from(("clear", "set", "drop", "nested")),
        st.sampled_from(("stats", "mean_ms", "run_id", "extra")),
        json_like(),
    )
