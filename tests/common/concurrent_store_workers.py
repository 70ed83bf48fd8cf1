"""The writer and reader processes of the concurrency test, and the check of what they logged.

Every event carries time.monotonic_ns() at its start and end: CLOCK_MONOTONIC is one clock for
all processes on the machine, so a read that started after a save returned can be told apart
from one that overlapped it.
"""

from __future__ import annotations

import bisect
import contextlib
import inspect
import io
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage import resolve
from tests.common.tagged_collectors import expected_summary, tag_of_summary, tagged_collector, without_timestamp

# What a read saw: a save's tag, nothing, or a summary that is no save's (torn, mixed, or unreadable).
NOTHING = "nothing"
NOT_A_SAVE = "not-a-save"


@dataclass(frozen=True)
class Save:
    run_id: str
    writer: int
    seq: int
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class Read:
    run_id: str
    how: str
    start_ns: int
    end_ns: int
    saw: str  # "w-s" of the save seen, NOTHING or NOT_A_SAVE
    detail: str = ""


@dataclass(frozen=True)
class Listing:
    start_ns: int
    end_ns: int
    runs: tuple[str, ...]


class _Classifier:
    """Names the save a summary came from, checking it whole against that save's expected summary."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._expected: dict[tuple[str, int, int], dict[str, Any]] = {}

    def __call__(self, run_id: str, summary: Any, printed: str) -> tuple[str, str]:
        if printed:
            return NOT_A_SAVE, printed.strip()
        if summary is None:
            return NOTHING, ""
        try:
            writer, seq = tag_of_summary(summary)
        except ValueError as e:
            return NOT_A_SAVE, str(e)
        key = (run_id, writer, seq)
        if key not in self._expected:
            self._expected[key] = expected_summary(run_id, writer, seq, self._size)
        if without_timestamp(summary) != self._expected[key] or not isinstance(summary.get("timestamp"), str):
            return NOT_A_SAVE, f"summary tagged {writer}-{seq} differs from what that save wrote"
        return f"{writer}-{seq}", ""


def _timed_read(store: Any, how: str, classify: _Classifier) -> Read:
    printed = io.StringIO()
    start = time.monotonic_ns()
    with contextlib.redirect_stdout(printed):
        summary = store.get_run_metrics(use_cache=False) if how == "uncached" else store.get_run_metrics()
    end = time.monotonic_ns()
    saw, detail = classify(store.run_id, summary, printed.getvalue())
    return Read(store.run_id, how, start, end, saw, detail)


def write_saves(
    candidate: str, results_dir: str, run_id: str, writer: int, saves: int, size: int, start: Any, log: str
) -> None:
    """Save `saves` tagged collectors to one run, reading the run back after each save."""
    store_class = resolve(candidate)
    classify = _Classifier(size)
    collectors = [tagged_collector(writer, seq, size) for seq in range(1, saves + 1)]
    events: list[Any] = []
    start.wait()
    for seq, collector in enumerate(collectors, start=1):
        store = store_class(run_id, results_dir)
        begun = time.monotonic_ns()
        store.save_latency_stats(collector)
        events.append(Save(run_id, writer, seq, begun, time.monotonic_ns()))
        events.append(_timed_read(store, "writer", classify))
    Path(log).write_text(json.dumps([[type(e).__name__, *vars(e).values()] for e in events]))


def poll_reads(
    candidate: str, results_dir: str, run_ids: list[str], size: int, start: Any, stop: Any, log: str
) -> None:
    """Until stopped, read each run through a long-lived store and a fresh one, and list the runs."""
    store_class = resolve(candidate)
    classify = _Classifier(size)
    events: list[Any] = []
    start.wait()
    long_lived = {run_id: store_class(run_id, results_dir) for run_id in run_ids}
    # The Protocol's get_run_metrics() takes no argument; optimized and proposed add use_cache.
    hows = (
        ["default", "uncached"]
        if "use_cache" in inspect.signature(store_class.get_run_metrics).parameters
        else ["default"]
    )
    while not stop.is_set():
        for run_id, store in long_lived.items():
            for how in hows:
                events.append(_timed_read(store, how, classify))
            events.append(_timed_read(store_class(run_id, results_dir), "fresh-store", classify))
        begun = time.monotonic_ns()
        runs = store_class.get_recent_runs(results_dir)
        events.append(Listing(begun, time.monotonic_ns(), tuple(runs)))
    Path(log).write_text(json.dumps([[type(e).__name__, *vars(e).values()] for e in events]))


def load_log(log: Path) -> list[Save | Read | Listing]:
    kinds = {"Save": Save, "Read": Read, "Listing": Listing}
    events: list[Save | Read | Listing] = []
    for kind, *values in json.loads(log.read_text()):
        if kind == "Listing":
            values[2] = tuple(values[2])
        events.append(kinds[kind](*values))
    return events


def violations(events: list[Save | Read | Listing]) -> list[str]:
    """Every read that saw a torn or mixed summary, nothing for a saved run, or data older than a completed save."""
    saves = [e for e in events if isinstance(e, Save)]
    by_tag = {(s.run_id, f"{s.writer}-{s.seq}"): s for s in saves}
    # Per run, saves by end time, with the latest start among those ended so far: a read that began
    # after save Y ended must not see save X if X ended before Y started.
    ends: dict[str, list[int]] = defaultdict(list)
    latest_start: dict[str, list[int]] = defaultdict(list)
    for s in sorted(saves, key=lambda s: s.end_ns):
        so_far = latest_start[s.run_id]
        so_far.append(max(s.start_ns, so_far[-1]) if so_far else s.start_ns)
        ends[s.run_id].append(s.end_ns)
    first_saved = {run_id: run_ends[0] for run_id, run_ends in ends.items()}

    found = []
    for e in events:
        if isinstance(e, Listing):
            missing = [r for r, t in first_saved.items() if t < e.start_ns and r not in e.runs]
            extra = [r for r in e.runs if r not in first_saved]
            if missing or extra:
                found.append(f"listing {e.runs} misses saved runs {missing} or shows unknown {extra}")
            continue
        if not isinstance(e, Read):
            continue
        done = bisect.bisect_left(ends[e.run_id], e.start_ns)  # saves of this run ended before the read began
        if e.saw == NOT_A_SAVE:
            found.append(f"{e.how} read of {e.run_id} saw no save's summary: {e.detail}")
        elif e.saw == NOTHING:
            if done:
                found.append(f"{e.how} read of {e.run_id} saw nothing after a save had completed")
        else:
            seen = by_tag.get((e.run_id, e.saw))
            if seen is None or seen.start_ns > e.end_ns:
                found.append(f"{e.how} read of {e.run_id} saw save {e.saw}, which had not started")
            elif done and latest_start[e.run_id][done - 1] > seen.end_ns:
                found.append(f"{e.how} read of {e.run_id} saw save {e.saw} after a later save had completed")
    return found


def reads_racing_a_save(events: list[Save | Read | Listing]) -> int:
    """How many reads overlapped a save of their run: the figure that says races were exercised at all."""
    starts: dict[str, list[int]] = defaultdict(list)
    latest_end: dict[str, list[int]] = defaultdict(list)
    for s in sorted((e for e in events if isinstance(e, Save)), key=lambda s: s.start_ns):
        so_far = latest_end[s.run_id]
        so_far.append(max(s.end_ns, so_far[-1]) if so_far else s.end_ns)
        starts[s.run_id].append(s.start_ns)
    racing = 0
    for e in events:
        if isinstance(e, Read):
            begun = bisect.bisect_left(starts[e.run_id], e.end_ns)  # saves that started before the read ended
            racing += bool(begun) and latest_end[e.run_id][begun - 1] > e.start_ns
    return racing
