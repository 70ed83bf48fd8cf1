"""Crash safety: a process saving in a loop is SIGKILLed at random moments; what it leaves must be whole.

After every kill the summary and the CSV on disk must each be exactly what one save wrote, and no
older than the last save the process reported as done. A kill between the two os.replace() calls
leaves the new summary beside the previous CSV: that is the documented window (see
MetricsStorage._save_pair), counted here, not a loss. A kill leaves its temporaries behind: they
carry hidden names no reader opens, and are counted too.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from storage import optimized
from tests.common.tagged_collectors import (
    expected_csv,
    expected_summary,
    tag_of_csv,
    tag_of_summary,
    tagged_collector,
    without_timestamp,
)

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS_DIR.parent
WORKER = TESTS_DIR / "common" / "save_loop_worker.py"
RUN_ID = "killed-run"
SIZE = 2000  # measurements per save: a ~100 KB CSV, so kills land inside writes as well as between them
MAX_KILL_DELAY_S = 0.04  # after "ready": spans several saves, and often none has completed yet
TEMPORARY = re.compile(r"\.latency_(summary\.json|raw\.csv)\.[0-9a-f]{12}\.tmp")


@dataclass
class CrashTally:
    kills: int = 0
    saves_acknowledged: int = 0
    pairs_split_between_replaces: int = 0
    losses: list[str] = field(default_factory=list)


@dataclass
class OnDisk:
    """The seq of the save each file on disk came from; None where there is no file."""

    summary: int | None = None
    csv: int | None = None


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def _start_worker(results_dir: Path, first: int, *extra: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(results_dir), RUN_ID, "--first", str(first), "--size", str(SIZE), *extra],
        stdout=subprocess.PIPE,
        text=True,
        env=_worker_env(),
    )
    assert worker.stdout is not None
    if worker.stdout.readline() != "ready\n":
        worker.kill()
        raise RuntimeError(f"save_loop_worker did not start: exit code {worker.wait()}")
    return worker


def _acknowledged(worker: subprocess.Popen[str]) -> list[int]:
    """Seqs whose save returned before the worker died."""
    out, _ = worker.communicate(timeout=30)
    return [int(line) for line in out.split()]


def _read_pair(run_dir: Path, scratch: Path, losses: list[str]) -> OnDisk:
    """Identify both files, recording as a loss anything that is not exactly one save's output."""
    on_disk = OnDisk()
    summary_path = run_dir / optimized.SUMMARY_NAME
    if summary_path.exists():
        raw = summary_path.read_bytes()
        try:
            summary = json.loads(raw.decode("utf-8"))
            _, seq = tag_of_summary(summary)
        except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            losses.append(f"summary does not parse or names no save: {e}")
        else:
            if without_timestamp(summary) != expected_summary(RUN_ID, 0, seq, SIZE):
                losses.append(f"summary of save {seq} is not what that save wrote")
            on_disk.summary = seq
    csv_path = run_dir / optimized.RAW_NAME
    if csv_path.exists():
        raw = csv_path.read_bytes()
        try:
            _, seq = tag_of_csv(raw)
        except ValueError as e:
            losses.append(f"CSV names no save: {e}")
        else:
            if raw != expected_csv(0, seq, SIZE, scratch):
                losses.append(f"CSV of save {seq} is incomplete or not what that save wrote ({len(raw)} bytes)")
            on_disk.csv = seq
    for name in sorted(os.listdir(run_dir)):
        if name not in (optimized.SUMMARY_NAME, optimized.RAW_NAME) and not TEMPORARY.fullmatch(name):
            losses.append(f"unexpected file left in the run folder: {name!r}")
    return on_disk


def _check_readers_see_the_summary(results_dir: Path, on_disk: OnDisk, losses: list[str]) -> None:
    listed = optimized.MetricsStorage.get_recent_runs(str(results_dir))
    metrics = optimized.MetricsStorage(RUN_ID, str(results_dir)).get_run_metrics(use_cache=False)
    if on_disk.summary is None:
        if listed or metrics is not None:
            losses.append(f"readers see a run that has no summary: {listed}")
        return
    try:
        seen = tag_of_summary(metrics)
    except ValueError as e:
        losses.append(f"get_run_metrics does not return save {on_disk.summary}: {e}")
        return
    if listed != [RUN_ID] or seen != (0, on_disk.summary):
        losses.append(f"readers see {listed} and save {seen}, not save {on_disk.summary}")


def _kill_round(results_dir: Path, scratch: Path, before: OnDisk, rng: random.Random, tally: CrashTally) -> OnDisk:
    worker = _start_worker(results_dir, (before.summary or 0) + 1)
    time.sleep(rng.uniform(0, MAX_KILL_DELAY_S))
    worker.kill()
    acknowledged = _acknowledged(worker)
    tally.kills += 1
    tally.saves_acknowledged += len(acknowledged)

    losses: list[str] = []
    after = _read_pair(results_dir / RUN_ID, scratch, losses)
    # Each file holds the last acknowledged save, or a later one: at most the one in flight when killed.
    summary_floor = acknowledged[-1] if acknowledged else before.summary
    csv_floor = acknowledged[-1] if acknowledged else before.csv
    in_flight = (summary_floor or 0) + 1
    if summary_floor is not None and (after.summary is None or after.summary < summary_floor):
        losses.append(f"summary holds save {after.summary}; saves up to {summary_floor} were acknowledged")
    if after.summary is not None and after.summary > in_flight:
        losses.append(f"summary holds save {after.summary}, but no save after {in_flight} had started")
    if csv_floor is not None and (after.csv is None or after.csv < csv_floor):
        losses.append(f"CSV holds save {after.csv}; saves up to {csv_floor} were acknowledged")
    if after.csv is not None and (after.summary is None or after.csv > after.summary):
        losses.append(f"CSV of save {after.csv} is newer than the summary of save {after.summary}")
    if after.summary is not None and after.csv != after.summary:
        tally.pairs_split_between_replaces += 1
    _check_readers_see_the_summary(results_dir, after, losses)
    tally.losses.extend(f"kill {tally.kills}: {loss}" for loss in losses)
    return after


def _temporaries(run_dir: Path) -> list[str]:
    return [name for name in os.listdir(run_dir) if TEMPORARY.fullmatch(name)]


@pytest.mark.parametrize("kills", [25, pytest.param(1000, marks=pytest.mark.slow)])
def test_files_on_disk_are_always_whole_after_random_kills(
    tmp_path: Path, record_property: pytest.RecordProperty, kills: int
) -> None:
    results_dir, scratch = tmp_path / "results", tmp_path / "expected"
    scratch.mkdir()
    rng = random.Random(kills)
    tally = CrashTally()
    on_disk = OnDisk()
    for _ in range(kills):
        on_disk = _kill_round(results_dir, scratch, on_disk, rng, tally)

    record_property("kills", tally.kills)
    record_property("saves_acknowledged", tally.saves_acknowledged)
    record_property("pairs_split_between_replaces", tally.pairs_split_between_replaces)
    record_property("temporaries_left_by_kills", len(_temporaries(results_dir / RUN_ID)))
    record_property("losses", len(tally.losses))
    assert tally.losses == []
    assert tally.saves_acknowledged > 0, "no save ever completed: the kills tested start-up only"


def test_kill_between_the_replaces_leaves_new_summary_beside_previous_csv(tmp_path: Path) -> None:
    results_dir, scratch = tmp_path / "results", tmp_path / "expected"
    scratch.mkdir()
    run_dir = results_dir / RUN_ID
    losses: list[str] = []

    assert _acknowledged(_start_worker(results_dir, 1, "--die-between-replaces")) == []
    assert _read_pair(run_dir, scratch, losses) == OnDisk(summary=1, csv=None)  # first save: no CSV yet
    assert [name.startswith(".latency_raw.csv.") for name in _temporaries(run_dir)] == [True]

    optimized.MetricsStorage(RUN_ID, str(results_dir)).save_latency_stats(tagged_collector(0, 2, SIZE))
    assert _acknowledged(_start_worker(results_dir, 3, "--die-between-replaces")) == []
    assert _read_pair(run_dir, scratch, losses) == OnDisk(summary=3, csv=2)
    assert losses == []
    metrics = optimized.MetricsStorage(RUN_ID, str(results_dir)).get_run_metrics(use_cache=False)
    assert tag_of_summary(metrics) == (0, 3)  # readers see the new summary at once
