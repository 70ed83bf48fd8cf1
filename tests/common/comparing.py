"""What "the same" means to the differential harness: answers equal throughout (NaN equal to NaN, -0.0 not 0.0,
types exact), the same exceptions and output, and the same files, modes and links left behind."""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SHOWN_CHARS = 400


def short_repr(value: Any) -> str:
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


class CollectorMismatch(Mismatch):
    """The collector a store is fed at a revision records, answers or saves what the frozen original's does not.

    Never the store's doing: the store is judged with both sides fed that same collector.
    """

    def __init__(self, detail: str) -> None:
        super().__init__("collector", "collector", detail)


def first_difference(baseline: Any, candidate: Any, where: str = "") -> str | None:
    """Where two answers differ, or None: == throughout, except NaN equals NaN and -0.0 is not 0.0.

    Types must match exactly; dicts compare as mappings (compare_runs builds one from a set).
    """
    if type(baseline) is not type(candidate):
        b_type, c_type = type(baseline).__name__, type(candidate).__name__
        return f"{where or 'value'}: {b_type} {short_repr(baseline)} != {c_type} {short_repr(candidate)}"
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
            return f"{where or 'value'}: {short_repr(baseline)} != {short_repr(candidate)}"
        for i, (b, c) in enumerate(zip(baseline, candidate, strict=True)):
            difference = first_difference(b, c, f"{where}[{i}]")
            if difference is not None:
                return difference
        return None
    return None if baseline == candidate else f"{where or 'value'}: {short_repr(baseline)} != {short_repr(candidate)}"


@dataclass(frozen=True)
class Outcome:
    """What one call did: its answer or its exception, and what it printed."""

    value: Any
    error: Exception | None
    stdout: str

    def __str__(self) -> str:
        done = (
            f"raised {type(self.error).__name__}({self.error})" if self.error else f"returned {short_repr(self.value)}"
        )
        return f"{done}, printed {self.stdout!r}" if self.stdout else done


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
    return "nothing" if entry is None else short_repr(entry[:2])


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


def put_entry(path: Path, entry: Entry | None) -> None:
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
