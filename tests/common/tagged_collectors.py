"""Collectors whose every satellite id names the save that wrote them, so a reader can tell what it sees.

Save `seq` of writer `writer` is built the same way in every process, so a checker can rebuild the
exact summary and CSV that save wrote and compare them whole: a torn or mixed file never matches.
All values have a fixed width, so every save of a run writes a summary of the same size: the cache
must then tell saves apart by inode and times alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from storage.latency import LatencyCollector

_RECORDERS = ("record_fault_detection", "record_agent_decision", "record_recovery_action")
_SATELLITES = 4
_SATELLITE_ID = re.compile(r"w(\d{2})-s(\d{6})-\d")
MAX_WRITER = 99
MAX_SEQ = 999_999


def tagged_collector(writer: int, seq: int, size: int) -> LatencyCollector:
    """The collector of save `seq` by `writer`: `size` measurements, one fixed-width duration."""
    if not (0 <= writer <= MAX_WRITER and 0 <= seq <= MAX_SEQ):
        raise ValueError(f"writer {writer} or seq {seq} does not fit the fixed-width satellite id")
    collector = LatencyCollector()
    duration_ms = float(100 + seq % 900)  # "NNN.0": the mean of equal values is that value, same width
    for k in range(size):
        record = getattr(collector, _RECORDERS[k % len(_RECORDERS)])
        record(f"w{writer:02d}-s{seq:06d}-{k % _SATELLITES}", k * 0.5, duration_ms)
        collector.measurements[-1].timestamp = 1_700_000_000.0 + k  # reproducible CSV bytes
    return collector


def tag_of_summary(summary: Any) -> tuple[int, int]:
    """(writer, seq) named by a summary's first satellite; ValueError if it names none."""
    if not isinstance(summary, Mapping) or not isinstance(summary.get("stats_by_satellite"), Mapping):
        raise ValueError(f"not a summary of a tagged collector: {summary!r:.200}")
    return _tag_of_satellite(next(iter(summary["stats_by_satellite"]), ""))


def tag_of_csv(raw: bytes) -> tuple[int, int]:
    """(writer, seq) named by a CSV's first row; ValueError if it names none."""
    rows = raw.split(b"\r\n")
    if len(rows) < 2:
        raise ValueError(f"CSV has no data row: {raw[:200]!r}")
    fields = rows[1].decode("ascii", errors="replace").split(",")
    return _tag_of_satellite(fields[2] if len(fields) > 2 else "")


def _tag_of_satellite(satellite_id: str) -> tuple[int, int]:
    match = _SATELLITE_ID.fullmatch(satellite_id)
    if match is None:
        raise ValueError(f"satellite id {satellite_id!r} names no save")
    return int(match[1]), int(match[2])


def expected_summary(run_id: str, writer: int, seq: int, size: int) -> dict[str, Any]:
    """The summary that save writes, without its timestamp, computed as the baseline computes it."""
    collector = tagged_collector(writer, seq, size)
    summary = collector.get_summary()
    return {
        "run_id": run_id,
        "total_measurements": len(collector.measurements),
        "measurement_types": summary.get("measurement_types", {}),
        "stats": collector.get_stats(),
        "stats_by_satellite": summary.get("stats_by_satellite", {}),
    }


def without_timestamp(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in summary.items() if key != "timestamp"}


def expected_csv(writer: int, seq: int, size: int, scratch_dir: Path) -> bytes:
    """The CSV bytes that save writes, as the collector's own export_csv writes them."""
    path = scratch_dir / f"expected-w{writer}-s{seq}-n{size}.csv"
    tagged_collector(writer, seq, size).export_csv(str(path))
    return path.read_bytes()
