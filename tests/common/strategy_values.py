"""The equivalence suite's smallest inputs: numbers, text, names, run ids, folders and limits (tests.common.strategies
re-exports them)."""

from __future__ import annotations

import functools
import math
import os
import sys
from typing import Any

from hypothesis import strategies as st

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
ORDER_SENSITIVE_POOLS = (
    (1e16, 1.0, -1e16),
    (2.0**53, 1.0, -(2.0**53), 3.0),
    (0.1, 0.7, 0.2, 1e-17),
    (1e308, 1e308, -1e308),
    (-0.0, 0.0, math.nan),
)


@functools.cache  # built once: strategies drawn inside composites are otherwise rebuilt and re-validated on every draw
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


@functools.cache
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


@functools.cache
def entry_names() -> st.SearchStrategy[str]:
    """Names of entries in a results folder: mixed case, unicode, digits that sort differently as text."""
    return st.one_of(
        st.sampled_from(("run1", "Run1", "RUN1", "run2", "run10", "run_9", "a", "B", "é", "latency_summary.json")),
        texts(),
    ).filter(_can_name_an_entry)


_ODD_RUN_IDS = ("", ".", "..", "a/b", "../escape", "nested/run", "run\x00id", "x" * 255, "x" * 256, "é" * 128, "\ud800")


@functools.cache
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


@functools.cache
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
