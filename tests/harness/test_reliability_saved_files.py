"""Fuzzed saved files: every kind the harness reads, truncated, corrupted, of the wrong schema and hostile,
gives a UsageError naming the file (exit 2 through the CLI), never another exception (a traceback).

Each kind starts from a real committed file. Its loader is the one the commands use, followed by the code that
reads what it returned; where a command reads the kind without measuring anything (`summary`, `publish`), the
variants go through the CLI too. The counts of variants tried, by kind and by variant, are recorded for
results/RELIABILITY.md.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import cli
from bench.errors import UsageError
from bench.gate import instructions
from bench.gate.saved import _read_saved
from bench.history.points import load_points
from bench.model import results
from bench.report import gate_report, summary

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
COMMITTED: Final = REPO_ROOT / "results"
ESCAPES: Final = ("../../../../../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "results/../../outside")


@dataclass(frozen=True)
class Kind:
    """A kind of saved file: a committed sample, where it goes in a results folder, and how the harness reads it."""

    name: str
    sample: Path
    place: str  # its path under a results folder
    read: Callable[[Path], object]  # the loader and what reads its result; raises UsageError on a bad file
    cli: Callable[[Path], list[str]] | None = None  # argv reading the results folder, measuring nothing
    siblings: tuple[str, ...] = ()  # committed files the folder needs beside it (a summary needs the baseline)
    depth: int = 4  # how deep the wrong-schema variants go: GATE.md's calibration section takes 7 s to render
    extend: dict[str, Any] | None = None  # fields today's writer adds to the committed sample

    def raw(self) -> bytes:
        if self.extend is None:
            return self.sample.read_bytes()
        return (json.dumps({**json.loads(self.sample.read_bytes()), **self.extend}, indent=2) + "\n").encode()


def _points(path: Path) -> object:
    return load_points(path.parent)


def _pyperf(path: Path) -> object:
    return results.load_pyperf(path)


def _pytest_benchmark(path: Path) -> object:
    return results.load_pytest_benchmark(path)


def _saved_ratios(path: Path) -> object:
    return _read_saved(path)


def _saved_counts(path: Path) -> object:
    return instructions.load(path, {})


def _equivalence(path: Path) -> object:
    return summary.differing_by_candidate(path.parent)


def _calibration(path: Path) -> object:
    return results.AGAINST_CALIBRATION.load(path)


def _calibration_rendered(path: Path) -> object:
    return gate_report.render_saved(results.AGAINST_CALIBRATION, path)


def _pytest_sample() -> Path:
    found = results.latest_pytest_benchmark(COMMITTED / "pytest-benchmark")
    assert found is not None
    return found


POINT: Final = sorted((COMMITTED / "history").glob("*.json"))[0]
# What `history` records of the store now (the committed points predate it): the paths a hostile file would bend.
STORE_RECORD: Final = {
    "store": {
        "path": "storage/optimized.py",
        "class": "MetricsStorage",
        "collector": "storage/latency.py:LatencyCollector",
    }
}
KINDS: Final = [
    Kind(
        "history point",
        POINT,
        f"history/{POINT.name}",
        _points,
        lambda folder: ["publish", "--results", str(folder), "--output", str(folder.parent / "site")],
        extend=STORE_RECORD,
    ),
    Kind(
        "pyperf run",
        COMMITTED / "pyperf" / "optimized.json",
        "pyperf/optimized.json",
        _pyperf,
        lambda folder: ["summary", str(folder)],
        siblings=("pyperf/baseline.json",),
    ),
    Kind(
        "pytest-benchmark run",
        _pytest_sample(),
        f"pytest-benchmark/{_pytest_sample().parent.name}/0001_x.json",
        _pytest_benchmark,
        lambda folder: ["summary", str(folder)],
    ),
    Kind("saved ratios", COMMITTED / "gate" / "saved_ratios.json", "gate/saved_ratios.json", _saved_ratios),
    Kind(
        "saved counts",
        COMMITTED / "instructions" / "saved_counts.json",
        "instructions/saved_counts.json",
        _saved_counts,
    ),
    Kind(
        "equivalence record",
        COMMITTED / "equivalence.json",
        "equivalence.json",
        _equivalence,
        lambda folder: ["summary", str(folder)],
        siblings=("pyperf/baseline.json", "pyperf/optimized.json"),
    ),
    Kind("calibration", COMMITTED / "gate" / "against_calibration.json", "gate/against_calibration.json", _calibration),
]
# GATE.md's section re-runs the calibration's resampling (7 s a render): its variants are the soak's (-m slow).
RENDERED: Final = Kind(
    "calibration in GATE.md",
    COMMITTED / "gate" / "against_calibration.json",
    "gate/against_calibration.json",
    _calibration_rendered,
    depth=2,
)


# --- the variants ---------------------------------------------------------------------------------------------


def truncated(raw: bytes) -> Iterator[tuple[str, bytes]]:
    for share in (0.0, 0.01, 0.25, 0.5, 0.75, 0.99):
        yield f"truncated at {share:.0%}", raw[: int(len(raw) * share)]
    yield "truncated by one byte", raw[:-2]  # the last byte is a newline


def _leaves(value: Any, path: tuple[Any, ...] = (), depth: int = 4) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every key path into the document, a few levels deep, with a list's first item standing for the rest."""
    if depth == 0:
        return
    children: Any = value.items() if isinstance(value, dict) else []
    if isinstance(value, list) and value:
        children = [(0, value[0])]
    for key, child in list(children)[:40]:
        yield (*path, key), child
        yield from _leaves(child, (*path, key), depth - 1)


def _replaced(document: Any, path: tuple[Any, ...], new: Any, delete: bool = False) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return copy


def wrong_schema(raw: bytes, depth: int = 4) -> Iterator[tuple[str, bytes]]:
    document = json.loads(raw)
    yield "a list at the top", b"[]"
    yield "a string at the top", b'"results"'
    yield "an empty object", b"{}"
    for path, value in _leaves(document, depth=depth):
        where = "/".join(map(str, path))
        if isinstance(path[-1], str):
            yield f"{where} removed", json.dumps(_replaced(document, path, None, delete=True)).encode()
        swapped = [] if isinstance(value, (str, int, float)) and not isinstance(value, bool) else "text"
        yield f"{where} of another type", json.dumps(_replaced(document, path, swapped)).encode()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"{where} negative", json.dumps(_replaced(document, path, -abs(value) - 1)).encode()


PATH_KEYS: Final = frozenset({"path", "collector", "file", "folder", "dir"})  # and any key ending in _path


def hostile(raw: bytes) -> Iterator[tuple[str, bytes]]:
    document = json.loads(raw)
    yield "nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000
    yield "NaN for a number", raw.replace(b": 0.", b': NaN, "nan": 0.', 1) if b": 0." in raw else b"NaN"
    yield "not UTF-8", raw[:20] + b"\xff\xfe" + raw[20:]
    yield "a NUL byte", raw[:20] + b"\x00" + raw[20:]
    for path, value in _leaves(document):
        key = path[-1]
        if isinstance(value, str) and isinstance(key, str) and (key in PATH_KEYS or key.endswith("_path")):
            for escape in ESCAPES:
                where = "/".join(map(str, path))
                yield f"{where} escaping the folder ({escape})", json.dumps(_replaced(document, path, escape)).encode()


# Families whose every variant is a broken file: it must be refused. A wrong-schema variant may be a file the harness
# reads correctly (a field it never reads, removed or retyped): it must be read or refused, never crash.
MUST_REFUSE: Final = ("truncated", "hostile")


def variants(raw: bytes, depth: int) -> Iterator[tuple[str, str, bytes]]:
    yield from (("truncated", name, changed) for name, changed in truncated(raw))
    yield from (("wrong schema", name, changed) for name, changed in wrong_schema(raw, depth))
    yield from (("hostile", name, changed) for name, changed in hostile(raw))


# --- reading them ---------------------------------------------------------------------------------------------


def _folder_with(tmp: Path, kind: Kind, raw: bytes) -> Path:
    folder = tmp / "results"
    shutil.rmtree(folder, ignore_errors=True)
    for sibling in kind.siblings:
        (folder / sibling).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(COMMITTED / sibling, folder / sibling)
    target = folder / kind.place
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(raw)
    return target


def _verdict(kind: Kind, target: Path) -> str:
    """'read' (it was still a valid file), or 'refused' (a UsageError naming the file); anything else raises."""
    try:
        kind.read(target)
    except UsageError as e:
        assert target.name in str(e) or str(target.parent) in str(e), f"{kind.name}: the error names no file: {e}"
        return "refused"
    return "read"


def _through_cli(kind: Kind, target: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert kind.cli is not None
    capsys.readouterr()
    code = cli.main(kind.cli(target.parents[len(Path(kind.place).parts) - 1]))
    err = capsys.readouterr().err
    assert code == 2, f"{kind.name}: exit {code}: {err[-500:]}"
    assert target.name in err or target.parent.name in err, err


@pytest.mark.parametrize(
    "kind", [*KINDS, pytest.param(RENDERED, marks=pytest.mark.slow)], ids=[k.name for k in [*KINDS, RENDERED]]
)
def test_every_broken_variant_is_refused_naming_the_file(
    kind: Kind, tmp_path: Path, capsys: pytest.CaptureFixture[str], record_property: pytest.RecordProperty
) -> None:
    raw = kind.raw()
    assert _verdict(kind, _folder_with(tmp_path, kind, raw)) == "read"  # the committed file itself is fine
    tried: dict[str, int] = {}
    verdicts: dict[str, int] = {}
    wrongly_read = []
    for family, name, changed in variants(raw, kind.depth):
        tried[family] = tried.get(family, 0) + 1
        target = _folder_with(tmp_path, kind, changed)
        verdict = _verdict(kind, target)  # anything but a UsageError naming the file raises here: a traceback
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        if verdict == "read" and family in MUST_REFUSE:
            wrongly_read.append(f"{family}: {name}")
        if verdict == "refused" and kind.cli is not None:
            _through_cli(kind, target, capsys)  # exit 2, naming the file, no traceback
    for family, count in tried.items():
        record_property(f"{family.replace(' ', '_')}_variants", count)
    for verdict, count in verdicts.items():
        record_property(verdict, count)
    assert wrongly_read == [], f"{kind.name}: broken files read as if valid: {wrongly_read}"
    assert verdicts.get("refused", 0) >= tried["truncated"] + 3  # the truncations and the whole-document swaps


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_corrupted_bytes_are_read_or_refused_never_crash(kind: Kind, tmp_path: Path) -> None:
    raw = kind.raw()

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(position=st.integers(0, len(raw) - 1), junk=st.binary(min_size=1, max_size=8))
    def corrupted(position: int, junk: bytes) -> None:
        changed = raw[:position] + junk + raw[position + len(junk) :]
        _verdict(kind, _folder_with(tmp_path, kind, changed))  # a UsageError naming the file, or still valid

    corrupted()
