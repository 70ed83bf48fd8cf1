"""Timing stores interleaved in fresh worker processes: the unit of replication is the process."""

from __future__ import annotations

import multiprocessing
import statistics
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import storage
from bench.errors import RevisionError, StoreUnusable
from bench.model import progress
from bench.model.fixtures import Fixtures
from bench.model.operations import AnswerCheckError, Case, find_case, prepare
from bench.stores import loading
from bench.stores.snapshot import Snapshot

DEFAULT_SAMPLE_SECONDS: Final = 0.02  # each timing round lasts about this long, per store


@dataclass(frozen=True)
class Arm:
    """One store timed in the worker: a storage.resolve() name, or a store loaded from a snapshot."""

    spec: str
    snapshot: Snapshot | None = None

    @classmethod
    def of(cls, loaded: Snapshot) -> Arm:
        return cls(loaded.spec(), loaded)


@dataclass(frozen=True)
class Arms:
    """What one worker process times: the baseline and the candidate, and the store at a revision if any."""

    candidate: Arm
    reference: Arm | None = None
    baseline: Arm | None = Arm("baseline")  # None: not timed (the gate against a revision judges without it)

    def timed(self) -> tuple[Arm, ...]:
        """The arms in the order the worker sets them up: baseline (if timed), candidate, reference (if any)."""
        return tuple(arm for arm in (self.baseline, self.candidate, self.reference) if arm is not None)


@dataclass(frozen=True)
class ProcessTiming:
    """One worker process's medians, per call: the unit of replication."""

    candidate_s: float
    baseline_s: float | None  # None when the baseline was not timed
    reference_s: float | None = None  # the store at --against REV


def round_order(arms: int, round_number: int) -> list[int]:
    """The arms' order in one timing round: ABBA for two, a Williams design for three.

    Rotation puts each arm in each position once every `arms` rounds; for an odd count, every other
    cycle is reversed, so each arm also follows each other arm equally often (A B C, B C A, C A B,
    C B A, A C B, B A C): drift and the previous store's cache footprint hit every arm alike.
    """
    shift = round_number % arms
    order = [(shift + i) % arms for i in range(arms)]
    if arms % 2 == 1 and (round_number // arms) % 2 == 1:
        order.reverse()
    return order


def _loops_for(case: Case, sample_seconds: float) -> int:
    """Doubles the loop count until one timing lasts sample_seconds (pyperf's calibration, simplified)."""
    loops = 1
    while loops < 1 << 20:
        if case.time(loops) >= sample_seconds:
            return loops
        loops *= 2
    return loops


def _prepare_arm(name: str, arm: Arm, workdir: Path, fixtures: Fixtures, reference: bool) -> Case:
    """The arm's case, set up and checked; a snapshot's failed check names it: RevisionError for the reference."""
    operation, size = find_case(name)
    if arm.snapshot is None:
        return prepare(operation, size, storage.resolve(arm.spec), workdir, fixtures)
    store_class, _ = loading.load(arm.snapshot)
    try:
        return prepare(operation, size, store_class, workdir, fixtures)
    except AnswerCheckError as e:
        reason = f"the store at {arm.snapshot.label} fails the answer check: {e}"
        raise RevisionError(reason) if reference else StoreUnusable(reason) from e


def time_in_this_process(name: str, arms: Arms, seed: int, rounds: int, sample_seconds: float) -> ProcessTiming:
    """Sets up every arm here, then times them in rotating order so drift hits all alike."""
    fixtures = Fixtures(seed=seed)
    timed = arms.timed()
    has_ref = arms.reference is not None
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as scratch:
        prepared = []
        for index, arm in enumerate(timed):
            workdir = Path(scratch, f"arm{index}")
            workdir.mkdir()
            prepared.append(_prepare_arm(name, arm, workdir, fixtures, reference=arm is arms.reference))
        loops = [_loops_for(case, sample_seconds) for case in prepared]
        per_call: list[list[float]] = [[] for _ in timed]
        for round_number in range(rounds):
            for index in round_order(len(timed), round_number):
                per_call[index].append(prepared[index].time(loops[index]) / loops[index])
    medians = [statistics.median(values) for values in per_call]
    baseline = medians.pop(0) if arms.baseline is not None else None
    return ProcessTiming(medians[0], baseline, medians[1] if has_ref else None)


Measure = Callable[[list[str], int], dict[str, list[ProcessTiming]]]


def measure_interleaved(arms: Arms, seed: int, rounds: int, sample_seconds: float) -> Measure:
    """A measure(names, processes) that runs each process fresh (spawned), benchmarks interleaved across them."""

    def measure(names: list[str], processes: int) -> dict[str, list[ProcessTiming]]:
        results: dict[str, list[ProcessTiming]] = {name: [] for name in names}
        # One process per task, one task at a time: no two timings compete for the 2 cores.
        with (
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool,
            progress.task(f"timing {len(names)} benchmarks", len(names) * processes) as step,
        ):
            for replicate in range(processes):
                for name in names:
                    step(f"{name} process {replicate + 1}/{processes}")
                    timing = pool.submit(time_in_this_process, name, arms, seed, rounds, sample_seconds)
                    results[name].append(timing.result())
        return results

    return measure
