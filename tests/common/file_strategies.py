"""Files for the equivalence suite: summary texts, result trees, edits from outside the store, and changes to a dict
a store returned (tests.common.strategies re-exports them)."""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from tests.common.strategy_values import RAW_NAME, RECORDED_TYPES, SUMMARY_NAME, entry_names, json_like, numbers, texts

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
