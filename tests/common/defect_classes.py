"""Every defect class the suite knows, as explicit examples that run first, for every candidate, on every run.

The derandomized search finds these only if it happens to draw them; an @example is tried before any
generated input, under every profile. Each entry names the class; tests/store/test_equivalence.py applies them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from hypothesis import example

from tests.common.strategies import (
    Append,
    Bulk,
    CollectorRecipe,
    DictMutation,
    EmptyMeasurements,
    Raises,
    Record,
    ResultTree,
    Returns,
    Rewrite,
    RewriteKeepingSize,
    SetsKey,
    TreeEntry,
    WritesText,
)

_ONE_RECORD: Final = (Record("record_fault_detection", "SAT-1", 1.5, 12.25),)
_TWO_RECORDS: Final = (*_ONE_RECORD, Record("record_agent_decision", "SAT-2", 2.5, 80.0))


def _scripted(*script: tuple[str, Any], steps: tuple[Record, ...] = _ONE_RECORD) -> CollectorRecipe:
    return CollectorRecipe(steps, tuple(script))


# An exception where a save starts, raised in the caller's thread by the collector, or in whichever thread
# writes a file (a store that writes in a worker thread must still raise it to the caller).
SAVE_ERRORS: Final = {
    "export_csv raises": _scripted(("export_csv", Raises(OSError))),
    "export_csv writes part of the file, then raises": _scripted(("export_csv", WritesText("partial\r\n", OSError))),
    "get_stats raises": _scripted(("get_stats", Raises(RuntimeError))),
    "get_summary raises": _scripted(("get_summary", Raises(KeyError))),
    "the summary cannot be serialised (json.dumps raises)": _scripted(("get_summary", SetsKey("extra", {(1,): 1}))),
    "the CSV write cannot encode a satellite id": CollectorRecipe((Record("record_fault_detection", "\ud800", 1, 2),)),
    "get_summary returns a non-dict": _scripted(("get_summary", Returns([1, 2]))),
}

# Plain collectors long enough for the CSV's fast path to batch its chunks and flush them, with chunks it must hand
# to export_csv's own DictWriter between them: a None satellite id (csv writes "", %s would write "None") and a str
# timestamp (csv writes it bare, %r would quote it), each at a row a chunk check that skipped rows would miss, and
# names with a comma and a quote. Before these, mutants of the flush and of the fallback survived the quick pass.
_BULK_POOLS: Final = {
    "sat_ids": ("SAT-1", "SAT,2", 'SAT"3'),
    "metric_types": ("fault_detection", "agent_decision"),
    "values": (1.5, 2, 0.1, 12.25, 1e-07),
}
LONG_SAVES: Final = {
    "a long collector whose CSV goes row by row in two chunks": CollectorRecipe(
        (
            Bulk(1100, 11, **_BULK_POOLS),
            Append(1.0, "fault_detection", None, 1.0, 2.0),  # the case: a satellite id that is not a str
            Bulk(400, 12, **_BULK_POOLS),
            Append("12:00", "agent_decision", "SAT-1", 3.0, 4.0),
            Bulk(100, 13, **_BULK_POOLS),
        )
    ),
}
# Plain collectors at the edges of the CSV's fast path, and a summary built from a log the measurements no longer
# match; each was an input a mutant of storage/optimized.py survived the quick pass on (x__format_chunk__mutmut_28,
# x__write_measurements_csv__mutmut_62, xǁMetricsStorageǁsave_latency_stats__mutmut_10).
EDGE_SAVES: Final = {
    "every name in the chunk needs quoting": CollectorRecipe((Append(1.0, "a,b", 'say "hi"', 2.0, 3.0),)),
    "three chunks left for the last write": CollectorRecipe((Bulk(520, 21, **_BULK_POOLS),)),
    "measurements emptied directly after records": CollectorRecipe((*_TWO_RECORDS, EmptyMeasurements())),
}

_T0: Final = 1_600_000_000
# Names that tie on modification time, differ only in case, or sort differently as text than by time.
RECENT_RUN_TREES: Final = {
    "a tie on modification time": ResultTree(
        (TreeEntry("run1", "run", _T0, b"{}"), TreeEntry("0000", "run", _T0, b"{}"))
    ),
    "case variants, the older one sorting first": ResultTree(
        (TreeEntry("run1", "run", _T0, b"{}"), TreeEntry("Run1", "run", _T0 + 60, b"{}"))
    ),
    "newest by name is oldest by time": ResultTree(
        (
            TreeEntry("run2", "run", _T0, b"{}"),
            TreeEntry("run10", "run", _T0 + 60, b"{}"),
            TreeEntry("run_9", "folder-without-summary", _T0 + 120),
        )
    ),
}
LIMITS_BELOW_ONE: Final = (0, -1)

_SAVED: Final = CollectorRecipe(_ONE_RECORD)
_SAVED_AGAIN: Final = CollectorRecipe(_TWO_RECORDS)
PLAIN_COLLECTOR: Final = _SAVED_AGAIN  # a collector whose save cannot fail
_ANOTHER_SUMMARY: Final = b'{"run_id": "run-a", "total_measurements": 7, "stats": {}}'
# A cache must notice a file that another process changed, even when its size stays the same.
OUTSIDE_EDITS: Final = {
    "another process replaces the summary": Rewrite(_ANOTHER_SUMMARY, in_place=False),
    "another process rewrites it in place": Rewrite(_ANOTHER_SUMMARY, in_place=True),
    "an edit that keeps the size": RewriteKeepingSize(position=0, shift=1),
    # read_text()'s universal newlines: the error's character offset counts "\r\n" and a lone "\r" as one "\n".
    "another process leaves a broken summary with Windows and old Mac line ends": Rewrite(
        b'{\r\n  "run_id": "run-a",\r  "stats": {},\r\n  oops\r\n}', in_place=False
    ),
}
# A caller that changes an answer must not change what the store says next.
SHARED_DICT_MUTATIONS: Final = {
    "the caller clears a returned dict": DictMutation("clear", "stats", None),
    "the caller changes a nested value": DictMutation("nested", "mean_ms", -1.0),
}
# compare_runs between cached runs: a p95 that is a dict must not be shared between answers and the cache.
SHARED_COMPARISON: Final = (
    b'{"stats": {"a": {"mean_ms": 1.5, "p95_ms": {"x": [1]}}}}',
    b'{"stats": {"a": {"mean_ms": 2.0, "p95_ms": 3.0}}}',
    DictMutation("nested", "extra", 1),
)
# compare_runs: the other run missing (this run then never read), or a summary that is {}, [] or null.
COMPARE_OTHERS: Final = {
    "the other run is missing and this one unreadable": (("run-b", None, b"{"), ("missing",)),
    "the other run's summary is {}": (("run-b", None, b"{}"), ()),
    "the other run's summary is []": (("run-b", None, b"[]"), ()),
    "the other run's summary is null": (("run-b", None, b"null"), ()),
    "the other run's summary is false": (("run-b", None, b"false"), ()),
    "the other run's summary is empty": (("run-b", None, b""), ()),
    # Path() / run_id joins a path too: the store's non-str branch (compare_runs__mutmut_13 to 17 survived it).
    "the other run asked for by a Path": (("run-b", None, _SAVED), (Path("run-b"), Path("missing"))),
}


def _summary(stats: Any) -> bytes:
    return json.dumps({"run_id": "x", "stats": stats}, indent=2).encode()


# Summaries whose stats compare_runs' cached views must read exactly as its general path does (each was a
# surviving mutmut mutant of _compare_view before these examples): a falsy entry, a missing mean or p95,
# a mutable value where a number belongs, stats that are not an object, no stats at all.
CACHED_COMPARE_SUMMARIES: Final = {
    "a falsy stats entry beside a full one": _summary({"fault_detection": {}, "agent_decision": {"mean_ms": 2.0}}),
    "an entry without mean_ms": _summary({"fault_detection": {"p95_ms": 4.0}}),
    "an entry without p95_ms": _summary({"fault_detection": {"mean_ms": 4.0}}),
    "a list where the mean belongs": _summary({"fault_detection": {"mean_ms": [1.0], "p95_ms": 2.0}}),
    "a dict where the p95 belongs": _summary({"fault_detection": {"mean_ms": 1.0, "p95_ms": {"a": 1}}}),
    "stats that are a list": _summary([1, 2]),
    "no stats at all": json.dumps({"run_id": "x"}).encode(),
    "an entry that is a number": _summary({"fault_detection": 3}),
}
_FULL_SUMMARY: Final = _summary(
    {"fault_detection": {"mean_ms": 1.5, "p95_ms": 3.0}, "agent_decision": {"mean_ms": 2.5}}
)


def cached_compare_examples() -> list[Any]:
    """Each odd summary against a full one (both views, or the general path), and against one with a falsy
    entry (a view on one side, the general path's dicts on the other)."""
    falsy = CACHED_COMPARE_SUMMARIES["a falsy stats entry beside a full one"]
    return [
        example(this=("run-a", None, summary), others=[("run-b", None, other)])
        for summary in CACHED_COMPARE_SUMMARIES.values()
        for other in (_FULL_SUMMARY, falsy)
    ]


def save_examples() -> list[Any]:
    recipes = [*SAVE_ERRORS.values(), *LONG_SAVES.values(), *EDGE_SAVES.values()]
    return [example(run_id="run-a", results_dir=None, saves=[recipe]) for recipe in recipes]


def recent_runs_examples(listed_same_as_tree: str) -> list[Any]:
    return [example(tree=tree, tree_dir=None, listed=listed_same_as_tree) for tree in RECENT_RUN_TREES.values()]


def limit_examples() -> list[Any]:
    tree = RECENT_RUN_TREES["a tie on modification time"]
    return [example(tree=tree, tree_dir=None, limit=limit) for limit in LIMITS_BELOW_ONE]


def second_save_examples() -> list[Any]:
    return [
        example(run_id="run-a", results_dir=None, first=_SAVED, second=_SAVED_AGAIN, use_cache=use_cache)
        for use_cache in (True, False)
    ]


def outside_edit_examples() -> list[Any]:
    return [
        example(collector=_SAVED_AGAIN, file_name="latency_summary.json", edits=[edit])
        for edit in OUTSIDE_EDITS.values()
    ]


def shared_dict_examples() -> list[Any]:
    return [example(collector=_SAVED_AGAIN, mutations=[mutation]) for mutation in SHARED_DICT_MUTATIONS.values()]


def compare_examples() -> list[Any]:
    return [
        example(this=("run-a", None, _SAVED), others=[other], asked=list(asked))
        for other, asked in COMPARE_OTHERS.values()
    ]


def shared_comparison_examples() -> list[Any]:
    this_summary, other_summary, mutation = SHARED_COMPARISON
    return [example(this_summary=this_summary, other_summary=other_summary, mutations=[mutation])]


def apply(examples: list[Any]) -> Any:
    """Stacks the examples on a test, in the order listed (the first listed is tried first)."""

    def decorate(test: Any) -> Any:
        for add_example in reversed(examples):
            test = add_example(test)
        return test

    return decorate
