"""The store we ship: the baseline's output, several times faster, and safe to trust.

Every deliberate difference from storage/baseline.py is listed in DIVERGENCES
below, and nowhere else; tests/store/test_divergences.py pins each one by showing
both behaviours. Anything not listed there must match the baseline exactly.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import locale
import marshal
import os
import stat
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields
from datetime import datetime
from functools import partial
from itertools import chain
from json.encoder import encode_basestring_ascii
from operator import attrgetter
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NamedTuple

# Relative: copied as the application's storage.py, this is the application's own latency.py,
# whose LatencyCollector is the class the save fast path is for.
from .latency import LatencyCollector, LatencyMeasurement

DEFAULT_RESULTS_DIR: Final = "astraguard/hil/results"
SUMMARY_NAME: Final = "latency_summary.json"
RAW_NAME: Final = "latency_raw.csv"
# export_csv()'s field names, in its order (the original latency module spells them out inline).
CSV_FIELDS: Final = ("timestamp", "metric_type", "satellite_id", "duration_ms", "scenario_time_s")

DIVERGENCES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "compare-runs-own-results-dir": (
            "compare_runs looks the other run up under this store's results_dir and creates no folder; "
            "the baseline looks under the default results_dir and creates <default>/<other_run_id>."
        ),
        "run-id-validated": (
            "A run_id (or compare_runs' other_run_id) that is empty, '.', '..', holds a path separator or NUL, "
            "or is longer than 255 bytes raises ValueError naming it; the baseline joins it onto results_dir "
            "as given, so it can write outside results_dir."
        ),
        "atomic-save": (
            "save_latency_stats writes each file to a temporary file in the run folder and os.replace()s it, "
            "summary first, then CSV. A failed save leaves the previous files (or none) and no temporary or "
            "partial file, where the baseline leaves a partly written file; a symlink or hard link at the "
            "file's place is replaced, not written through."
        ),
        "export-csv-temp-path": (
            "A collector whose export_csv is overridden is called with the temporary path "
            "(.latency_raw.csv.<random>.tmp in the run folder), not the final one, so its write is atomic too."
        ),
        "save-needs-writable-run-folder": (
            "save_latency_stats creates its temporaries in the run folder, so it needs write permission on the "
            "folder; the baseline rewrites existing files in place and needs it only on the files. With a "
            "read-only run folder the optimized store raises PermissionError and keeps the previous files."
        ),
        "summary-must-be-an-object": (
            "get_run_metrics and compare_runs treat a summary whose JSON is an array, string, number or boolean "
            "as unreadable: they print the baseline's [ERROR] line with that reason and return None (compare_runs: "
            "its could-not-load mapping). The baseline returns the value as it is, and its compare_runs then "
            "raises AttributeError on it (.get on a list, str, int or bool), empty or not. JSON null gives None "
            "without a message, as in the baseline."
        ),
        "cached-metrics-interface": (
            "The proposal's debugging interface: store._cached_metrics reads as a fresh copy of this run's cached "
            "summary while the file is unchanged, else None, and assigning None drops the entry, so the next read "
            "goes to the file. Assigning anything else raises ValueError; the baseline has no such attribute "
            "(reading it raises AttributeError, assigning sets a plain attribute that changes nothing)."
        ),
        "summary-read-bounded": (
            "get_run_metrics and compare_runs refuse a summary that is larger than 16 MiB or is neither a regular "
            "file nor a folder (a FIFO, a device): they print the baseline's [ERROR] line and return None without "
            "opening it. The baseline reads it whole: a FIFO blocks it forever, /dev/zero exhausts memory."
        ),
    }
)

# pathlib's exists()/is_dir() answer False for these errnos and re-raise the rest.
_PATHLIB_IGNORED_ERRNOS: Final = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})
_NAME_MAX_BYTES: Final = 255
# A cached summary is trusted only if its inode changed longer ago than this before it was read:
# file times come from the kernel's coarse clock (a tick <= 10 ms), so a rewrite inside the same tick
# could otherwise keep size, mtime and ctime (git's "racily clean" problem).
_RACY_WINDOW_NS: Final = 50_000_000
# File systems with one- or two-second times (FAT, HFS+, old ext3) store no nanoseconds.
_COARSE_FS_RACY_WINDOW_NS: Final = 3_000_000_000
_CACHE_MAX_ENTRIES: Final = 4096
# A summary holds about 210 bytes per (satellite, metric type): 6,000 satellites with all three types make
# 3.8 MB. 16 MiB leaves four times that, and keeps a corrupt or hostile file from being read whole.
_MAX_SUMMARY_BYTES: Final = 16 * 1024 * 1024
_ACCESS_BY_EFFECTIVE_IDS: Final = os.access in os.supports_effective_ids


def _stat_or_none(path: str) -> os.stat_result | None:
    """os.stat with pathlib's exists() semantics: None where it says False, its exceptions otherwise."""
    try:
        return os.stat(path)
    except OSError as e:
        if e.errno in _PATHLIB_IGNORED_ERRNOS:
            return None
        raise
    except ValueError:
        return None


def _check_run_id(run_id: Any, results_dir: Any) -> None:
    if not isinstance(run_id, str):
        return  # Path() / run_id raises the baseline's own TypeError for these
    bad = run_id in ("", ".", "..") or "/" in run_id or "\0" in run_id
    bad = bad or (os.altsep is not None and os.altsep in run_id)
    if not bad:
        try:
            bad = len(os.fsencode(run_id)) > _NAME_MAX_BYTES
        except UnicodeEncodeError:
            bad = False  # unencodable: mkdir raises the baseline's own UnicodeEncodeError
    if bad:
        raise ValueError(f"run_id {run_id!r} is not a single folder name inside {str(results_dir)!r}")


# --- the summary cache ---------------------------------------------------------------------------


class _CompareView(NamedTuple):
    """What compare_runs reads of a summary's stats: per metric type (in key order) its mean_ms and p95_ms
    as .get(key, 0) gives them, or None for a falsy entry. Only immutable values, so it is shared safely."""

    entries: dict[str, tuple[Any, Any] | None]


_NOT_VIEWABLE: Final = _CompareView({})  # a summary whose stats need compare_runs' general path
_IMMUTABLE_SCALARS: Final = frozenset({str, int, float, bool, type(None)})


def _compare_view(summary: Any) -> _CompareView:
    """The view of a summary, or _NOT_VIEWABLE where its stats hold anything but dicts of immutable scalars."""
    if type(summary) is not dict:
        return _NOT_VIEWABLE  # JSON null: compare_runs' general path reports it missing
    stats = summary.get("stats", {})
    if type(stats) is not dict:
        return _NOT_VIEWABLE
    entries: dict[str, tuple[Any, Any] | None] = {}
    for metric_type, entry in stats.items():
        if not entry:
            entries[metric_type] = None  # compare_runs skips a falsy entry without reading it
            continue
        if type(entry) is not dict:
            return _NOT_VIEWABLE  # .get on it raises: the general path raises it where the baseline does
        mean, p95 = entry.get("mean_ms", 0), entry.get("p95_ms", 0)
        if type(mean) not in _IMMUTABLE_SCALARS or type(p95) not in _IMMUTABLE_SCALARS:
            return _NOT_VIEWABLE
        entries[metric_type] = (mean, p95)
    return _CompareView(entries)


class _CacheEntry(NamedTuple):
    signature: bytes
    # The summary's text until its first hit, then a marshal of it: every hit gets a fresh, unshared
    # copy, and a read that is never repeated pays for no marshalling.
    text: str | None
    blob: bytes | None
    # compare_runs' view, made at its first compare hit: compare_runs then copies nothing.
    view: _CompareView | None = None


# Packed: 73 bytes where a tuple of five ints takes about 250, and it lives as long as the entry.
_SIGNATURE: Final = struct.Struct("<QQqqq")


def _signature(st: os.stat_result) -> bytes:
    return _SIGNATURE.pack(st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _is_trusted(st: os.stat_result, read_started_ns: int) -> bool:
    window = _RACY_WINDOW_NS
    if st.st_ctime_ns % 1_000_000_000 == 0 and st.st_mtime_ns % 1_000_000_000 == 0:
        window = _COARSE_FS_RACY_WINDOW_NS
    return st.st_ctime_ns < read_started_ns - window


class _SummaryCache:
    """Parsed summaries of the whole process, keyed by path and checked against os.stat on every hit."""

    def __init__(self, max_entries: int) -> None:
        self._entries: dict[str, _CacheEntry] = {}
        self._max_entries = max_entries
        self._store_lock = threading.Lock()  # eviction iterates the dict; hits need no lock

    def lookup(self, path: str, st: os.stat_result) -> Any | None:
        entry = self._entries.get(path)
        if entry is None or entry.signature != _signature(st):
            return None
        if entry.blob is not None:
            return marshal.loads(entry.blob)
        data = json.loads(entry.text)  # type: ignore[arg-type]  # parsed fine when it was stored
        try:
            blob = marshal.dumps(data)
        except ValueError:
            # Nested deeper than marshal allows (only with a raised recursion limit): parse on every hit.
            return data
        self._put(path, entry._replace(text=None, blob=blob))
        return data

    def lookup_view(self, path: str, st: os.stat_result) -> _CompareView | None:
        """The entry's compare view (None: no valid entry); made once from a private copy of the summary."""
        entry = self._entries.get(path)
        if entry is None or entry.signature != _signature(st):
            return None
        if entry.view is None:
            data = marshal.loads(entry.blob) if entry.blob is not None else json.loads(entry.text)  # type: ignore[arg-type]
            entry = entry._replace(view=_compare_view(data))
            self._put(path, entry)
        return entry.view

    def drop(self, path: str) -> None:
        with self._store_lock:
            self._entries.pop(path, None)

    def store(self, path: str, signature: bytes, text: str) -> None:
        """Keeps a summary read whole, under the signature of the stat taken before the read."""
        self._put(path, _CacheEntry(signature, text, None))

    def _put(self, path: str, entry: _CacheEntry) -> None:
        with self._store_lock:
            if path not in self._entries and len(self._entries) >= self._max_entries:
                del self._entries[next(iter(self._entries))]
            self._entries[path] = entry

    def clear(self) -> None:
        with self._store_lock:
            self._entries.clear()


_SUMMARY_CACHE = _SummaryCache(_CACHE_MAX_ENTRIES)


def clear_summary_cache() -> None:
    """Forget every cached summary; benchmarks call it to measure a cold read."""
    _SUMMARY_CACHE.clear()


def _refusal(st: os.stat_result) -> str | None:
    """Why a summary must not be opened at all: a FIFO would block forever, a device or a huge file never end."""
    if stat.S_ISDIR(st.st_mode):
        return None  # read_text() raises IsADirectoryError, reported as the baseline reports it
    if not stat.S_ISREG(st.st_mode):
        return f"not a regular file (mode {stat.filemode(st.st_mode)})"
    if st.st_size > _MAX_SUMMARY_BYTES:
        return f"{st.st_size} bytes is more than the {_MAX_SUMMARY_BYTES}-byte limit for a summary"
    return None


def _load_summary(summary_path: Path, use_cache: bool) -> Any | None:
    path = str(summary_path)
    read_started_ns = time.time_ns()
    st = _stat_or_none(path)
    if st is None:
        return None
    if use_cache:
        cached = _SUMMARY_CACHE.lookup(path, st)
        if cached is not None:
            return cached
    # Checked on the stat above: a file swapped or grown between that stat and the read is read as it is then.
    refusal = _refusal(st)
    if refusal is not None:
        print(f"[ERROR] Failed to load metrics from {summary_path}: {refusal}")
        return None
    # Only entries whose inode is older than the racy window are cached; and only the packed signature
    # outlives the stat: a stat result held through the parse raised the peak above the baseline's.
    signature = None
    if use_cache and _is_trusted(st, read_started_ns):
        signature = _signature(st)
    try:
        text = _read_text(summary_path, path, st)
        del st
        data = json.loads(text)
    except Exception as e:  # the baseline's contract: report, then None
        print(f"[ERROR] Failed to load metrics from {summary_path}: {e}")
        return None
    refusal = not_an_object(data)
    if refusal is not None:
        print(f"[ERROR] Failed to load metrics from {summary_path}: {refusal}")
        return None
    if signature is not None:
        _SUMMARY_CACHE.store(path, signature, text)
    return data


def _summary_key_in(results_key: str, run_id: str) -> str:
    """str(Path(results_key) / run_id / SUMMARY_NAME) for a run_id that _check_run_id let through."""
    if results_key == ".":
        return f"{run_id}{os.sep}{SUMMARY_NAME}"
    separator = "" if results_key.endswith(os.sep) else os.sep  # "/" and "//" end in one already
    return f"{results_key}{separator}{run_id}{os.sep}{SUMMARY_NAME}"


def _summary_for_compare(key: str) -> _CompareView | Any | None:
    """A cached summary's compare view (shared: it holds immutable values only), else the summary as read."""
    st = _stat_or_none(key)
    if st is None:
        return None
    view = _SUMMARY_CACHE.lookup_view(key, st)
    if view is not None and view is not _NOT_VIEWABLE:
        return view
    return _load_summary(Path(key), True)


def _stats_for_compare(summary: _CompareView | dict[str, Any]) -> Any:
    """summary.get("stats", {}), or from a view the dicts that compare_runs reads the same values from."""
    if type(summary) is not _CompareView:
        return summary.get("stats", {})  # type: ignore[union-attr]
    return {
        metric_type: {} if entry is None else {"mean_ms": entry[0], "p95_ms": entry[1]}
        for metric_type, entry in summary.entries.items()
    }


_JSON_KINDS: Final = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}


def not_an_object(value: Any) -> str | None:
    """Why a parsed summary is refused (summary-must-be-an-object), or None for an object or null."""
    if value is None or type(value) is dict:
        return None
    return f"the summary is {_JSON_KINDS.get(type(value), type(value).__name__)} in JSON, not an object"


def _read_text(summary_path: Path, path: str, st: os.stat_result) -> str:
    """Path.read_text()'s text and exceptions, without building a text file object (a third of a cold read)."""
    if stat.S_ISDIR(st.st_mode):
        return summary_path.read_text()  # its IsADirectoryError names the path, as the baseline's does
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # errors carry the path, as open()'s do
    try:
        wanted = st.st_size + 1  # one read for the whole file; a short read of a regular file is its end
        chunks = [os.read(fd, wanted)]
        while len(chunks[-1]) == wanted:  # the file grew since the stat
            chunks.append(os.read(fd, wanted))
    finally:
        os.close(fd)
    # read_text(): the locale's encoding, strict errors, universal newlines.
    text = b"".join(chunks).decode(locale.getpreferredencoding(False))
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


# --- statistics, computed once -------------------------------------------------------------------

_ORIGINAL_METHODS: Final = (
    LatencyCollector.get_stats,
    LatencyCollector.get_summary,
    LatencyCollector.get_stats_by_satellite,
    LatencyCollector.export_csv,
)
_PLAIN_COLLECTOR_ATTRS: Final = frozenset({"measurements", "_start_time", "_measurement_log"})


def _is_plain_collector(collector: Any) -> bool:
    """True only for an unmodified LatencyCollector: anything else gets exactly its own methods called."""
    return (
        type(collector) is LatencyCollector
        and type(collector.measurements) is list
        and collector.__dict__.keys() <= _PLAIN_COLLECTOR_ATTRS
        and (
            LatencyCollector.get_stats,
            LatencyCollector.get_summary,
            LatencyCollector.get_stats_by_satellite,
            LatencyCollector.export_csv,
        )
        == _ORIGINAL_METHODS
    )


def _type_stats(durations: list[Any]) -> dict[str, Any]:
    s = sorted(durations)
    n = len(s)
    return {
        "count": n,
        "mean_ms": sum(durations) / n,  # summed in recording order: the baseline's mean depends on it
        "p50_ms": s[n // 2],
        "p95_ms": s[int(n * 0.95)],
        "p99_ms": s[int(n * 0.99)],
        "max_ms": max(durations),  # over recording order: for equal values the first seen wins
        "min_ms": min(durations),
    }


def _satellite_stats(durations: list[Any]) -> dict[str, Any]:
    s = sorted(durations)
    n = len(s)
    return {
        "count": n,
        "mean_ms": sum(durations) / n,
        "p50_ms": s[n // 2],
        "p95_ms": s[int(n * 0.95)],
        "max_ms": max(durations),
    }


def summarise(measurements: list[Any]) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """get_stats() and get_stats_by_satellite() in one go, raising what the baseline raises first."""
    by_type: defaultdict[Any, list[Any]] = defaultdict(list)
    for m in measurements:
        by_type[m.metric_type].append(m.duration_ms)
    stats = {metric_type: _type_stats(durations) for metric_type, durations in by_type.items()}
    # Freed before the per-satellite lists are built: with both alive, 100,000 measurements peaked at 1.3x
    # the baseline's memory (tracemalloc), where it peaks at 0.96x without them.
    del by_type

    # The baseline's own nested grouping: the fastest here, and its key semantics by construction.
    by_sat: defaultdict[Any, defaultdict[Any, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for m in measurements:
        by_sat[m.satellite_id][m.metric_type].append(m.duration_ms)
    by_satellite = {
        sat_id: {metric_type: _satellite_stats(durations) for metric_type, durations in per_type.items()}
        for sat_id, per_type in by_sat.items()
    }
    return stats, by_satellite


_CSV_CHUNK_ROWS: Final = 256  # bounds the strings alive at once: peak memory stays under the baseline's
_CSV_WRITE_CHARS: Final = 32 * 1024
_ROW_OF: Final = attrgetter(*CSV_FIELDS)  # a row's fields in export_csv's order, as asdict() would read them
# The rows are asdict()'s only while the measurement has exactly export_csv's fields;
# a sibling latency.py whose dataclass differs gets export_csv's own DictWriter for every row.
_COLUMNS_ARE_ASDICT: Final = tuple(f.name for f in fields(LatencyMeasurement)) == CSV_FIELDS
# csv.writer writes a float as repr() and an int or bool as str(), which is their repr() too: "%r".
# Its str fields are written as _csv_field() renders them: "%s" of the rendered text.
_REPR_AS_CSV_TYPES: Final = frozenset({float, int, bool})
_ROW_FORMAT: Final = "%r,%s,%s,%r,%r\r\n"
_CHUNK_FORMAT: Final = _ROW_FORMAT * _CSV_CHUNK_ROWS
_TEXT_COLUMNS: Final = (1, 2)  # metric_type, satellite_id in a flattened chunk of 5-field rows
_NUMBER_COLUMNS: Final = (0, 3, 4)


def _csv_field(text: str) -> str:
    """How csv.writer renders one str field (quoting is decided per field)."""
    probe = io.StringIO()
    csv.writer(probe).writerow((text, ""))
    return probe.getvalue()[: -len(",\r\n")]


def _export_measurements_csv(measurements: list[Any], f: io.TextIOWrapper) -> None:
    """export_csv()'s bytes and exceptions, see _write_measurements_csv."""
    try:
        _write_measurements_csv(measurements, f)
    except UnicodeEncodeError:
        _raise_as_export_csv(measurements, f.encoding, f.errors)  # type: ignore[arg-type]  # never None: a text file
        raise


def _raise_as_export_csv(measurements: list[Any], encoding: str, errors: str) -> None:
    """Raise the error export_csv raises: it encodes row by row, so its position counts within the row."""
    row = io.StringIO()
    writer = csv.DictWriter(row, fieldnames=list(CSV_FIELDS))
    for m in measurements:
        row.seek(0)
        row.truncate()
        writer.writerow(asdict(m))
        row.getvalue().encode(encoding, errors)


def _write_measurements_csv(measurements: list[Any], f: io.TextIOBase) -> None:
    """export_csv()'s bytes without a dataclasses.asdict() per row.

    A chunk's fields are read row by row, as asdict() reads them, into one flat tuple, and formatted by
    one %-format of the chunk: float repr() is most of the cost, and this adds the least to it (no
    string per row, no join). A chunk holding anything but LatencyMeasurements of str and float/int/bool
    values goes row by row through export_csv's own DictWriter(asdict(m)) instead: CSV rows are
    independent, so the bytes stay the baseline's.
    """
    csv.writer(f).writerow(CSV_FIELDS)
    pending: list[str] = []  # formatted chunks, written in batches: one write() per chunk was a syscall each
    pending_chars = 0
    quoted: dict[str, str] = {}
    row_writer: csv.DictWriter[str] | None = None
    for start in range(0, len(measurements), _CSV_CHUNK_ROWS):
        chunk = measurements[start : start + _CSV_CHUNK_ROWS]
        if _COLUMNS_ARE_ASDICT and set(map(type, chunk)) == {LatencyMeasurement}:
            text = _format_chunk(tuple(chain.from_iterable(map(_ROW_OF, chunk))), quoted)
            if text is not None:
                pending.append(text)
                pending_chars += len(text)
                if pending_chars >= _CSV_WRITE_CHARS:
                    f.write("".join(pending))
                    pending.clear()
                    pending_chars = 0
                continue
        f.write("".join(pending))
        pending.clear()
        pending_chars = 0
        if row_writer is None:
            row_writer = csv.DictWriter(f, fieldnames=list(CSV_FIELDS))
        for m in chunk:
            row_writer.writerow(asdict(m))
    f.write("".join(pending))


def _format_chunk(flat: tuple[Any, ...], quoted: dict[str, str]) -> str | None:
    """The CSV rows of a chunk's flattened fields, or None where a value needs csv.writer's own rendering."""
    if not all(_REPR_AS_CSV_TYPES.issuperset(map(type, flat[column::5])) for column in _NUMBER_COLUMNS):
        return None
    if not all({str}.issuperset(map(type, flat[column::5])) for column in _TEXT_COLUMNS):
        return None  # checked before the texts are hashed: a non-str may not hash, or hash differently
    texts = set(flat[1::5]).union(flat[2::5])
    for text in texts.difference(quoted):
        quoted[text] = _csv_field(text)
    if any(quoted[text] != text for text in texts):  # a comma, quote or line break: quote it as csv.writer does
        fields_ = list(flat)
        for column in _TEXT_COLUMNS:
            fields_[column::5] = [quoted[text] for text in flat[column::5]]
        flat = tuple(fields_)
    rows = len(flat) // 5
    return (_CHUNK_FORMAT if rows == _CSV_CHUNK_ROWS else _ROW_FORMAT * rows) % flat


class _NotPlainJSON(Exception):
    """Raised inside plain_json() when a value needs json.dumps' general machinery."""


_INF: Final = float("inf")


def plain_json(obj: dict[str, Any], newline_indent: str) -> str:
    """json.dumps(obj, indent=2)'s exact text for dicts of str keys and str/int/float/dict values."""
    if not obj:
        return "{}"
    inner = newline_indent + "  "
    parts = []
    for key, value in obj.items():
        if type(key) is not str:
            raise _NotPlainJSON
        kind = type(value)
        if kind is dict:
            text = plain_json(value, inner)
        elif kind is str:
            text = encode_basestring_ascii(value)
        elif kind is float:
            # json's floatstr(): repr, with its own names for the IEEE-754 specials
            if value != value:
                text = "NaN"
            elif value == _INF:
                text = "Infinity"
            elif value == -_INF:
                text = "-Infinity"
            else:
                text = float.__repr__(value)
        elif kind is int:
            text = int.__repr__(value)
        else:
            raise _NotPlainJSON
        parts.append(f"{inner}{encode_basestring_ascii(key)}: {text}")
    return "{" + ",".join(parts) + newline_indent + "}"


def _summary_json(summary: dict[str, Any], built_here: bool) -> str:
    """The baseline's json.dumps(summary, indent=2, default=str), faster for the trees we built."""
    if built_here:  # acyclic by construction; a collector's own dicts might not be
        try:
            return plain_json(summary, "\n")
        except _NotPlainJSON:
            pass  # e.g. a non-str metric type or a None duration: json.dumps handles it below
    return json.dumps(summary, indent=2, default=str)


def _write_csv_fd(measurements: list[Any], fd: int) -> None:
    with open(fd, "w", newline="") as f:  # export_csv's open(): same encoding, same newline handling
        _export_measurements_csv(measurements, f)


# --- atomic writes -------------------------------------------------------------------------------


def _temp_name(final_path: str) -> str:
    head, tail = os.path.split(final_path)
    return os.path.join(head, f".{tail}.{os.urandom(6).hex()}.tmp")


def _create_temp(final_path: str) -> tuple[int, str]:
    # 0o666 so the umask applies, as it does to the baseline's write_text (mkstemp would give 0o600).
    for _ in range(16):
        tmp = _temp_name(final_path)
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as error:  # the baseline's open() of final_path fails alike: its error names that path
            raise type(error)(error.errno, error.strerror, final_path) from error
    raise FileExistsError(errno.EEXIST, "no free temporary name beside", final_path)


def _remove_if_present(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # never created, or already replaced
        os.unlink(path)


def _check_replaceable(final_path: str) -> None:
    """Raise what the baseline's in-place write raises where os.replace() would succeed or fail differently."""
    try:
        st = os.lstat(final_path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), final_path)
    # A symbolic link is replaced, not written through (atomic-save): only a file's own mode counts.
    if stat.S_ISREG(st.st_mode) and not os.access(final_path, os.W_OK, effective_ids=_ACCESS_BY_EFFECTIVE_IDS):
        # access() folds a read-only file system into False; the baseline's open() reports it first, as EROFS.
        if os.statvfs(final_path).f_flag & os.ST_RDONLY:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), final_path)
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), final_path)


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class MetricsStorage:
    """Drop-in for the baseline store: same files, same answers, see DIVERGENCES for the exceptions."""

    def __init__(self, run_id: str, results_dir: str = DEFAULT_RESULTS_DIR, *, fsync: bool = False) -> None:
        _check_run_id(run_id, results_dir)
        self.run_id = run_id
        self.metrics_dir = Path(results_dir) / run_id
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        self._results_dir = Path(results_dir)
        self._summary_path = self.metrics_dir / SUMMARY_NAME
        # The cache's keys, as str(Path) spells them: compare_runs builds the other run's from these in one join.
        self._results_key = str(self._results_dir)
        self._summary_key = str(self._summary_path)
        # fsync=True makes a completed save survive power loss, at the cost measured in bench/.
        self._fsync = fsync

    def save_latency_stats(self, collector: Any) -> dict[str, str]:
        write_csv_fd: Callable[[int], None] | None
        plain = _is_plain_collector(collector)
        if plain:
            measurements = collector.measurements
            stats, stats_by_satellite = summarise(measurements) if measurements else ({}, {})
            measurement_types = dict(collector._measurement_log) if measurements else {}
            timestamp = datetime.now().isoformat()
            write_csv_fd = partial(_write_csv_fd, measurements)
        else:
            # Exactly the baseline's calls, in its order: a subclass sees no difference.
            stats = collector.get_stats()
            summary = collector.get_summary()
            timestamp = datetime.now().isoformat()
            measurement_types = summary.get("measurement_types", {})
            stats_by_satellite = summary.get("stats_by_satellite", {})
            write_csv_fd = None
        summary_dict = {
            "run_id": self.run_id,
            "timestamp": timestamp,
            "total_measurements": len(collector.measurements),
            "measurement_types": measurement_types,
            "stats": stats,
            "stats_by_satellite": stats_by_satellite,
        }
        text = _summary_json(summary_dict, built_here=plain)

        summary_path = str(self._summary_path)
        csv_path = str(self.metrics_dir / RAW_NAME)
        self._save_pair(text, summary_path, csv_path, write_csv_fd, lambda path: collector.export_csv(path))
        return {"summary": summary_path, "raw": csv_path}

    def _save_pair(
        self,
        text: str,
        summary_path: str,
        csv_path: str,
        write_csv_fd: Callable[[int], None] | None,
        export_csv: Callable[[str], None],
    ) -> None:
        """Both files to temporaries, then summary and CSV replaced in the baseline's write order.

        A kill between the two replaces leaves the new summary beside the previous CSV (or none);
        that window is not closed: closing it would need a manifest the baseline's readers don't know.
        Each final path is checked before anything is replaced, so a folder or a read-only file at the
        CSV's place fails the save with the baseline's error and leaves the previous summary too.
        """
        summary_tmp = csv_tmp = None
        _check_replaceable(summary_path)
        try:
            fd, summary_tmp = _create_temp(summary_path)
            with open(fd, "wb") as f:
                f.write(text.encode("ascii"))  # json.dumps(ensure_ascii=True) output is ASCII
                if self._fsync:
                    f.flush()
                    os.fsync(f.fileno())
            if write_csv_fd is not None:
                fd, csv_tmp = _create_temp(csv_path)
                write_csv_fd(fd)
            else:
                csv_tmp = _temp_name(csv_path)
                export_csv(csv_tmp)
                if not os.path.lexists(csv_tmp):
                    csv_tmp = None  # the collector wrote nothing, as the baseline's would have
            if csv_tmp is not None:
                _check_replaceable(csv_path)
            if self._fsync and csv_tmp is not None:
                _fsync_path(csv_tmp)
            os.replace(summary_tmp, summary_path)
            summary_tmp = None
            if csv_tmp is not None:
                os.replace(csv_tmp, csv_path)
                csv_tmp = None
            if self._fsync:
                _fsync_path(str(self.metrics_dir))
        finally:
            for leftover in (summary_tmp, csv_tmp):
                if leftover is not None:
                    _remove_if_present(leftover)

    def get_run_metrics(self, use_cache: bool = True) -> Any | None:
        """The saved summary; cached copies are checked against the file, and never shared."""
        return _load_summary(self._summary_path, use_cache)

    @property
    def _cached_metrics(self) -> Any | None:
        """The proposal's debugging interface: a fresh copy of this run's cached summary while it is valid."""
        path = str(self._summary_path)
        st = _stat_or_none(path)
        return None if st is None else _SUMMARY_CACHE.lookup(path, st)

    @_cached_metrics.setter
    def _cached_metrics(self, value: None) -> None:
        """Assigning None (the proposal's way to clear the cache) drops this run's entry."""
        if value is not None:
            raise ValueError(f"_cached_metrics can only be cleared by assigning None, not {type(value).__name__}")
        _SUMMARY_CACHE.drop(str(self._summary_path))

    def compare_runs(self, other_run_id: str) -> dict[str, Any]:
        _check_run_id(other_run_id, self._results_dir)
        if type(other_run_id) is str:  # checked above: one folder name, so one join spells what pathlib would
            other_metrics = _summary_for_compare(_summary_key_in(self._results_key, other_run_id))
        else:  # Path() / run_id raises the baseline's own TypeError, or joins what pathlib accepts
            other_metrics = _summary_for_compare(str(self._results_dir / other_run_id / SUMMARY_NAME))
        if other_metrics is None:  # the original's order: this run is not read, nothing printed for it
            return {"error": f"Could not load metrics for run {other_run_id}", "metrics": {}}
        this_metrics = _summary_for_compare(self._summary_key)
        if this_metrics is None:  # `is None`: a summary of {} is compared, with no metrics
            return {"error": f"Could not load metrics for run {self.run_id}", "metrics": {}}

        metrics: dict[Any, dict[str, Any]] = {}
        comparison: dict[str, Any] = {
            "run1": self.run_id,
            "run2": other_run_id,
            "timestamp": datetime.now().isoformat(),
            "metrics": metrics,
        }
        if type(this_metrics) is _CompareView and type(other_metrics) is _CompareView:
            # Both cached: read the views, copy nothing; the answer holds their immutable values only.
            this_entries, other_entries = this_metrics.entries, other_metrics.entries
            for metric_type in set(list(this_entries) + list(other_entries)):
                this_data, other_data = this_entries.get(metric_type), other_entries.get(metric_type)
                if this_data is None or other_data is None:
                    continue
                metrics[metric_type] = {
                    "this_mean_ms": this_data[0],
                    "other_mean_ms": other_data[0],
                    "diff_ms": this_data[0] - other_data[0],
                    "this_p95_ms": this_data[1],
                    "other_p95_ms": other_data[1],
                }
            return comparison
        this_stats = _stats_for_compare(this_metrics)
        other_stats = _stats_for_compare(other_metrics)
        for metric_type in set(list(this_stats.keys()) + list(other_stats.keys())):
            this_data = this_stats.get(metric_type, {})
            other_data = other_stats.get(metric_type, {})
            if not this_data or not other_data:
                continue
            this_mean = this_data.get("mean_ms", 0)
            other_mean = other_data.get("mean_ms", 0)
            metrics[metric_type] = {
                "this_mean_ms": this_mean,
                "other_mean_ms": other_mean,
                "diff_ms": this_mean - other_mean,
                "this_p95_ms": this_data.get("p95_ms", 0),
                "other_p95_ms": other_data.get("p95_ms", 0),
            }
        return comparison

    @staticmethod
    def get_recent_runs(results_dir: str = DEFAULT_RESULTS_DIR, limit: int = 10) -> list[str]:
        """The baseline's answer from one listdir, a sort of str names, and stats only until limit."""
        root = str(Path(results_dir))  # the baseline's normalisation and TypeErrors
        if _stat_or_none(root) is None:
            return []
        names = os.listdir(root)
        names.sort(reverse=True)  # str order is the baseline's Path order: same parent, compared by name
        prefix = os.path.join(root, "")
        runs: list[str] = []
        for name in names:
            # <name>/latency_summary.json resolves only if <name> is a folder or a link to one, and fails
            # with the errnos pathlib ignores (ENOTDIR, ELOOP, ENOENT) exactly where the baseline's
            # is_dir() says False; a permission error raises at the same entry as the baseline's.
            if _stat_or_none(f"{prefix}{name}/{SUMMARY_NAME}") is None:
                continue
            runs.append(name)
            if len(runs) >= limit:  # checked after the append: a limit <= 0 still returns one name
                break
        return runs
