"""The least work each operation's answer needs (one os.listdir, one os.stat, the bytes formatted once).

The report sets the optimized store's time beside these: what is left between the two is what the
store spends on safety and generality. Each floor is checked against the real answer before it is
timed (the same bytes as the baseline's files, every folder entry, a summary that parses), so a
floor cannot be cheap by doing less than the operation must. bench/runners/pyperf_floors.py measures them.
"""

from __future__ import annotations

import contextlib
import json
import marshal
import os
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

from bench.model.fixtures import SUMMARY_NAME, Fixtures
from bench.model.operations import OPERATIONS, case_name
from storage import CANDIDATES
from storage.latency import LatencyCollector
from storage.optimized import CSV_FIELDS, plain_json, summarise

RAW_NAME: Final = "latency_raw.csv"
# The same length as datetime.isoformat() with microseconds, so the summary has the stored byte count.
_FIXED_TIMESTAMP: Final = "2026-01-02T03:04:05.678901"
_CSV_HEADER: Final = ",".join(CSV_FIELDS) + "\r\n"


class FloorCheckError(AssertionError):
    """A floor produced something other than the operation's answer: it would measure less work."""


Work = Callable[[], Any]


@dataclass(frozen=True)
class Floor:
    """One minimal way to do an operation's work at a size; `build` sets it up (untimed) and checks it."""

    operation: str
    name: str
    what: str  # one line for the report
    build: Callable[[Fixtures, int, Path], Work]


REFERENCE: Final = "optimized"  # the store the floors are set beside, timed in the same run


def floor_name(floor: Floor, size: int) -> str:
    """The pyperf name, "get_recent_runs[1000]/os.listdir": the case's name, then the floor's."""
    return f"{case_name(_operation(floor.operation), size)}/{floor.name}"


def reference_name(floor: Floor, size: int) -> str:
    """The pyperf name of the optimized store's time for the floor's case: "get_recent_runs[1000]/optimized"."""
    return f"{case_name(_operation(floor.operation), size)}/{REFERENCE}"


def _operation(name: str) -> Any:
    for operation in OPERATIONS:
        if operation.name == name:
            return operation
    raise LookupError(f"no operation {name!r} in bench.model.operations")


def _expect(condition: bool, floor: str, what: str) -> None:
    if not condition:
        raise FloorCheckError(f"floor {floor}: {what}")


# --- save_latency_stats: the two files' bytes --------------------------------------------------------


def _file_texts(collector: LatencyCollector, run_id: str) -> tuple[str, str]:
    """The summary and CSV text of one save, at the least cost we found.

    Statistics and the summary's JSON are the optimized store's own (already single-pass and C-bound); the
    CSV is joined column by column in one piece, with no per-row dict, no chunking and no type checks.
    The fixtures' metric types and satellite ids need no CSV quoting: the check below would catch one.
    """
    measurements = collector.measurements
    stats, by_satellite = summarise(measurements)
    summary = {
        "run_id": run_id,
        "timestamp": _FIXED_TIMESTAMP,
        "total_measurements": len(measurements),
        "measurement_types": dict(collector._measurement_log),
        "stats": stats,
        "stats_by_satellite": by_satellite,
    }
    ts, kinds, satellites, durations, scenario = (list(map(attrgetter(name), measurements)) for name in CSV_FIELDS)
    rows = zip(map(repr, ts), kinds, satellites, map(repr, durations), map(repr, scenario), strict=True)
    return plain_json(summary, "\n"), _CSV_HEADER + "\r\n".join(map(",".join, rows)) + "\r\n"


def _check_same_bytes_as_baseline(collector: LatencyCollector, workdir: Path, label: str) -> None:
    saved = CANDIDATES["baseline"]("floor_check", results_dir=str(workdir / "baseline")).save_latency_stats(collector)
    summary, csv_text = _file_texts(collector, "floor_check")
    _expect(Path(saved["raw"]).read_bytes() == csv_text.encode(), label, "CSV bytes differ from the baseline's")
    baseline_text = Path(saved["summary"]).read_text()
    stamp = json.dumps(json.loads(baseline_text)["timestamp"])
    _expect(stamp in baseline_text, label, "no timestamp in the baseline's summary")
    restamped = baseline_text.replace(stamp, json.dumps(_FIXED_TIMESTAMP), 1)
    _expect(restamped == summary, label, "summary text differs from the baseline's")


def _build_format(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    collector = fixtures.collector(size)
    _check_same_bytes_as_baseline(collector, workdir, f"save_latency_stats[{size}]/format")
    return lambda: _file_texts(collector, "bench_save")


def _build_format_and_write(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    collector = fixtures.collector(size)
    _check_same_bytes_as_baseline(collector, workdir, f"save_latency_stats[{size}]/format+write")
    folder = workdir / "bench_save"
    folder.mkdir()
    summary_path, csv_path = str(folder / SUMMARY_NAME), str(folder / RAW_NAME)

    def format_and_write() -> None:
        summary, csv_text = _file_texts(collector, "bench_save")
        for path, text in ((summary_path, summary), (csv_path, csv_text)):
            # A new file in the old one's place: on ext4, truncating a file in place and rewriting it costs
            # several times more (the delayed-allocation flush on close). No temporary, no fsync.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            with open(path, "xb") as f:
                f.write(text.encode("ascii"))

    return format_and_write


def _build_format_and_replace(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    collector = fixtures.collector(size)
    _check_same_bytes_as_baseline(collector, workdir, f"save_latency_stats[{size}]/format+replace")
    folder = workdir / "bench_save"
    folder.mkdir()
    targets = [(str(folder / name), str(folder / f".{name}.tmp")) for name in (SUMMARY_NAME, RAW_NAME)]
    for path, _ in targets:
        Path(path).write_bytes(b"")  # a save replaces the previous files: os.replace() over an existing one

    def format_and_replace() -> None:
        for (path, temporary), text in zip(targets, _file_texts(collector, "bench_save"), strict=True):
            # ext4 (auto_da_alloc) starts the new file's writeback on a rename over an existing file: the
            # price of a replace that keeps the old or the new bytes after a crash, without an fsync.
            with open(temporary, "xb") as f:
                f.write(text.encode("ascii"))
            os.replace(temporary, path)

    return format_and_replace


_NUMBER_FIELDS: Final = ("timestamp", "duration_ms", "scenario_time_s")


def _build_float_reprs(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    """The CSV's numbers alone: csv.writer formats each with repr(), and nothing formats a float faster."""
    collector = fixtures.collector(size)
    label = f"save_latency_stats[{size}]/float repr"
    _check_same_bytes_as_baseline(collector, workdir, label)
    columns = [list(map(attrgetter(name), collector.measurements)) for name in _NUMBER_FIELDS]
    rows = [row.split(",") for row in _file_texts(collector, "floor_check")[1].splitlines()[1:]]
    for name, column in zip(_NUMBER_FIELDS, columns, strict=True):
        at = CSV_FIELDS.index(name)
        _expect(list(map(repr, column)) == [row[at] for row in rows], label, f"the reprs are not the CSV's {name}")
    return lambda: [list(map(repr, column)) for column in columns]


# --- reads of saved summaries ------------------------------------------------------------------------


def _saved_summaries(fixtures: Fixtures, size: int) -> tuple[str, str]:
    entry, run_a, run_b = fixtures.saved_runs(size)
    return str(entry / run_a / SUMMARY_NAME), str(entry / run_b / SUMMARY_NAME)


def _read_and_parse(path: str) -> Any:
    with open(path, "rb") as f:
        return json.loads(f.read())


def _check_parses(path: str, size: int, label: str) -> None:
    _expect(_read_and_parse(path).get("total_measurements") == size, label, f"{path} is not a summary of {size}")


def _build_cold_read(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    path, _ = _saved_summaries(fixtures, size)
    _check_parses(path, size, f"get_run_metrics_cold[{size}]")
    return lambda: _read_and_parse(path)


def _build_stat(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    path, _ = _saved_summaries(fixtures, size)
    _check_parses(path, size, f"get_run_metrics_warm[{size}]")
    return lambda: os.stat(path)


def _build_stat_and_copy(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    """The least a warm read that hands out an unshared dict can do: check the file, copy the parsed summary."""
    path, _ = _saved_summaries(fixtures, size)
    parsed = _read_and_parse(path)
    blob = marshal.dumps(parsed)
    _expect(marshal.loads(blob) == parsed, f"get_run_metrics_warm[{size}]", "a marshal copy differs from the summary")
    return lambda: (os.stat(path), marshal.loads(blob))


def _build_two_stats(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    paths = _saved_summaries(fixtures, size)
    for path in paths:
        _check_parses(path, size, f"compare_runs[{size}]/2x os.stat")
    return lambda: (os.stat(paths[0]), os.stat(paths[1]))


def _build_two_reads(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    paths = _saved_summaries(fixtures, size)
    for path in paths:
        _check_parses(path, size, f"compare_runs[{size}]/2x read+json.loads")
    return lambda: (_read_and_parse(paths[0]), _read_and_parse(paths[1]))


# --- get_recent_runs: one pass over the folder -------------------------------------------------------


def _tree_entries(fixtures: Fixtures, size: int) -> tuple[str, int]:
    root = fixtures.result_tree(size)
    entries = json.loads((root.parent / "manifest.json").read_text())["entries"]
    return str(root), entries


def _build_listdir(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    root, entries = _tree_entries(fixtures, size)
    _expect(len(os.listdir(root)) == entries, f"get_recent_runs[{size}]/os.listdir", "not every entry listed")
    return lambda: os.listdir(root)


def _scan(root: str) -> list[os.DirEntry[str]]:
    with os.scandir(root) as entries:
        return list(entries)


def _build_scandir(fixtures: Fixtures, size: int, workdir: Path) -> Work:
    root, entries = _tree_entries(fixtures, size)
    _expect(len(_scan(root)) == entries, f"get_recent_runs[{size}]/os.scandir", "not every entry listed")
    return lambda: _scan(root)


FLOORS: Final[tuple[Floor, ...]] = (
    Floor("save_latency_stats", "format", "both files' bytes built in memory (statistics, JSON, CSV)", _build_format),
    Floor(
        "save_latency_stats",
        "format+write",
        "the same bytes written to two new files in the old ones' place (no temporary, no fsync)",
        _build_format_and_write,
    ),
    Floor(
        "save_latency_stats",
        "format+replace",
        "the same bytes written to two temporaries, each os.replace()d over the old file (the atomic write, "
        "without the store's checks)",
        _build_format_and_replace,
    ),
    Floor(
        "save_latency_stats",
        "float repr",
        "only the CSV's float repr()s, 3 per row: no statistics, no JSON, no join, no file",
        _build_float_reprs,
    ),
    Floor("get_run_metrics_cold", "read+json.loads", "one read and json.loads of the summary", _build_cold_read),
    Floor("get_run_metrics_warm", "os.stat", "one os.stat of the summary (what a checked cache must do)", _build_stat),
    Floor(
        "get_run_metrics_warm",
        "os.stat+marshal.loads",
        "one os.stat and one unshared copy of the parsed summary (marshal.loads: the fastest copy we found)",
        _build_stat_and_copy,
    ),
    Floor("compare_runs", "2x os.stat", "one os.stat of each summary (a checked cache, warm)", _build_two_stats),
    Floor("compare_runs", "2x read+json.loads", "read and json.loads of both summaries (no cache)", _build_two_reads),
    Floor("get_recent_runs", "os.listdir", "one os.listdir of the results folder", _build_listdir),
    Floor("get_recent_runs", "os.scandir", "one os.scandir of the results folder, every entry", _build_scandir),
)


def floor_cases() -> list[tuple[Floor, int]]:
    """Every (floor, size), at the sizes its operation is benchmarked at, grouped by case in table order."""
    return [
        (floor, size)
        for operation in OPERATIONS
        for size in operation.sizes
        for floor in FLOORS
        if floor.operation == operation.name
    ]
