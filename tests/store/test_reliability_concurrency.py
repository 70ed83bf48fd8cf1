"""Concurrency: processes save to one shared run and to their own while others poll every run.

Every read must return one save's complete summary, never a mix and never None once the run has
been saved; and a read that starts after a save returned must not see data older than that save,
in any process (the optimized store's cache is per process, and checked against os.stat).
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from tests.common.concurrent_store_workers import (
    Listing,
    Read,
    Save,
    load_log,
    poll_reads,
    reads_racing_a_save,
    violations,
    write_saves,
)

SIZE = 200  # measurements per save: a save takes about a millisecond, so saves and reads interleave densely
JOIN_TIMEOUT_S = 600


def _run_writers_and_readers(
    results_dir: Path, logs: Path, writers_per_run: dict[str, int], saves: int, readers: int, candidate: str
) -> list[Save | Read | Listing]:
    context = multiprocessing.get_context("spawn")  # each process starts with its own, empty cache
    writers = sum(writers_per_run.values())
    start, stop = context.Barrier(writers + readers), context.Event()
    writer_processes = []
    writer_id = 0
    for run_id, count in writers_per_run.items():
        for _ in range(count):
            log = logs / f"writer-{writer_id}.json"
            args = (candidate, str(results_dir), run_id, writer_id, saves, SIZE, start, str(log))
            writer_processes.append(context.Process(target=write_saves, args=args))
            writer_id += 1
    run_ids = list(writers_per_run)
    reader_processes = []
    for reader_id in range(readers):
        log = logs / f"reader-{reader_id}.json"
        args = (candidate, str(results_dir), run_ids, SIZE, start, stop, str(log))
        reader_processes.append(context.Process(target=poll_reads, args=args))
    for process in writer_processes + reader_processes:
        process.start()
    try:
        for process in writer_processes:
            process.join(JOIN_TIMEOUT_S)
    finally:
        stop.set()
        for process in reader_processes:
            process.join(JOIN_TIMEOUT_S)
    exit_codes = [process.exitcode for process in writer_processes + reader_processes]
    assert exit_codes == [0] * len(exit_codes), f"a worker failed or hung: exit codes {exit_codes}"
    return [event for log in sorted(logs.iterdir()) for event in load_log(log)]


@pytest.mark.parametrize(
    ("writers_per_run", "saves", "readers"),
    [
        pytest.param({"shared": 2, "own": 1}, 40, 2, id="3-writers-x-40-saves"),
        pytest.param(
            {"shared": 3, "own-a": 1, "own-b": 1}, 1000, 3, marks=pytest.mark.slow, id="5-writers-x-1000-saves"
        ),
    ],
)
def test_reads_are_whole_and_never_older_than_a_completed_save(
    tmp_path: Path, record_property: pytest.RecordProperty, writers_per_run: dict[str, int], saves: int, readers: int
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    events = _run_writers_and_readers(tmp_path / "results", logs, writers_per_run, saves, readers, "optimized")
    found = violations(events)

    reads = [e for e in events if isinstance(e, Read)]
    record_property("writers", sum(writers_per_run.values()))
    record_property("saves_per_writer", saves)
    record_property("reads_checked", len(reads))
    record_property("listings_checked", sum(isinstance(e, Listing) for e in events))
    record_property("reads_during_a_save_of_their_run", reads_racing_a_save(events))
    record_property("losses", len(found))
    assert found[:10] == []
    assert sum(isinstance(e, Save) for e in events) == sum(writers_per_run.values()) * saves


def _save(writer: int, seq: int, start: int, end: int) -> Save:
    return Save("run", writer, seq, start, end)


def _read(saw: str, start: int, end: int) -> Read:
    return Read("run", "uncached", start, end, saw)


@pytest.mark.parametrize(
    ("events", "flagged"),
    [
        ([_save(0, 1, 0, 10), _save(0, 2, 20, 30), _read("0-1", 40, 50)], 1),  # stale after save 2 returned
        ([_save(0, 1, 0, 10), _save(1, 1, 5, 30), _read("0-1", 40, 50)], 0),  # the saves overlapped: either may win
        ([_save(0, 1, 0, 10), _save(0, 2, 20, 30), _read("0-1", 25, 50)], 0),  # read overlapped save 2
        ([_save(0, 1, 0, 10), _read("nothing", 5, 8)], 0),  # the run did not exist yet
        ([_save(0, 1, 0, 10), _read("nothing", 11, 12)], 1),  # None for a saved run
        ([_save(0, 1, 0, 10), _read("not-a-save", 1, 2)], 1),  # torn or mixed
        ([_save(0, 1, 20, 30), _read("0-1", 1, 2)], 1),  # saw a save that had not started
        ([_save(0, 1, 0, 10), Listing(11, 12, ())], 1),  # a saved run missing from get_recent_runs
    ],
)
def test_the_check_flags_torn_missing_and_stale_reads(events: list[Save | Read | Listing], flagged: int) -> None:
    assert len(violations(events)) == flagged
