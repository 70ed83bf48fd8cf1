"""The one interleaved measurement engine of gate, find, history and calibrate: stores timed in turn, in rotating
order, in fresh worker processes, one benchmark a process. The unit of replication is the process."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import statistics
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import storage
from bench.errors import RevisionError, StoreUnusable
from bench.model import progress, results
from bench.model.fixtures import Fixtures
from bench.model.operations import AnswerCheckError, Case, check, find_case, set_up
from bench.stores import loading
from bench.stores.snapshot import Snapshot

DEFAULT_SAMPLE_SECONDS: Final = 0.02  # each timing round lasts about this long, per store
TIMINGS_SCHEMA: Final = "timings.v1.schema.json"


@dataclass(frozen=True)
class Arm:
    """One store timed in the worker: a storage.resolve() name, or a store loaded from a snapshot."""

    spec: str
    snapshot: Snapshot | None = None

    @classmethod
    def of(cls, loaded: Snapshot) -> Arm:
        return cls(loaded.spec(), loaded)

    @property
    def label(self) -> str:
        return self.snapshot.label if self.snapshot is not None else self.spec


@dataclass(frozen=True)
class Arms:
    """What one worker process times: the candidate, and the baseline and a reference store where given."""

    candidate: Arm
    reference: Arm | None = None
    baseline: Arm | None = Arm("baseline")  # None: not timed (the gate against a revision judges without it)

    def timed(self) -> tuple[Arm, ...]:
        """The arms in the order the worker sets them up: baseline (if timed), candidate, reference (if any)."""
        return tuple(arm for arm in (self.baseline, self.candidate, self.reference) if arm is not None)


Over = Literal["reference", "baseline"]


@dataclass(frozen=True)
class ProcessTiming:
    """One worker process's median seconds per call of each arm."""

    candidate_s: float
    baseline_s: float | None  # None when the baseline was not timed
    reference_s: float | None = None

    def log_ratio(self, over: Over) -> float:
        """log(candidate / the other arm) in this process."""
        other = self.reference_s if over == "reference" else self.baseline_s
        if other is None:
            raise ValueError(f"no {over} arm was timed in this process")
        return math.log(self.candidate_s / other)


@dataclass(frozen=True)
class Timings:
    """One benchmark's processes, in the order they ran: what every verdict is computed from, saved as it is."""

    benchmark: str
    processes: tuple[ProcessTiming, ...]
    rounds: int
    seed: int

    def __add__(self, more: Timings) -> Timings:
        if (more.benchmark, more.rounds, more.seed) != (self.benchmark, self.rounds, self.seed):
            raise ValueError(f"cannot pool {more.benchmark} timings into {self.benchmark}'s: other settings")
        return Timings(self.benchmark, self.processes + more.processes, self.rounds, self.seed)

    def __len__(self) -> int:
        return len(self.processes)

    def has(self, over: Over) -> bool:
        field = "reference_s" if over == "reference" else "baseline_s"
        return bool(self.processes) and all(getattr(p, field) is not None for p in self.processes)

    def log_ratios(self, over: Over) -> list[float]:
        """log(candidate / reference) or log(candidate / baseline) per process."""
        return [p.log_ratio(over) for p in self.processes]

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "rounds": self.rounds,
            "seed": self.seed,
            "processes": [[p.candidate_s, p.baseline_s, p.reference_s] for p in self.processes],
        }

    @classmethod
    def from_json(cls, document: Any, where: str = "timings") -> Timings:
        """The saved form; a UsageError naming `where` and the place when it is not one (schemas/saved/)."""
        results.check_schema(document, TIMINGS_SCHEMA, f"{where} is not a benchmark's timings")
        processes = tuple(ProcessTiming(*row) for row in document["processes"])
        return cls(document["benchmark"], processes, document["rounds"], document["seed"])


def round_order(arms: int, round_number: int) -> list[int]:
    """The arms' order in one timing round: ABBA for two, a Williams design for three.

    Rotation puts each arm in each position once every `arms` rounds; for an odd count, every other cycle is
    reversed, so each arm also follows each other arm equally often: drift and the previous store's cache footprint
    hit every arm alike.
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


def _prepare_arms(name: str, arms: Arms, scratch: str, fixtures: Fixtures) -> list[Case]:
    """Every arm's case set up, then each checked; a snapshot's failed check names it: RevisionError for the reference.

    All are set up before any is checked, so the saved runs' settling wait is one for the process, not one per arm.
    """
    operation, size = find_case(name)
    cases = []
    for index, arm in enumerate(arms.timed()):
        workdir = Path(scratch, f"arm{index}")
        workdir.mkdir()
        with _named_check(arm, arms):
            store_class = storage.resolve(arm.spec) if arm.snapshot is None else loading.load(arm.snapshot)[0]
            cases.append(set_up(operation, size, store_class, workdir, fixtures))
    for arm, case in zip(arms.timed(), cases, strict=True):
        with _named_check(arm, arms):
            check(case)
    return cases


@contextlib.contextmanager
def _named_check(arm: Arm, arms: Arms) -> Iterator[None]:
    """A snapshot's failed answer check, named: RevisionError for the reference, StoreUnusable for the candidate."""
    try:
        yield
    except AnswerCheckError as e:
        if arm.snapshot is None:
            raise
        reason = f"the store at {arm.snapshot.label} fails the answer check: {e}"
        raise RevisionError(reason) if arm is arms.reference else StoreUnusable(reason) from e


def time_in_this_process(name: str, arms: Arms, seed: int, rounds: int, sample_seconds: float) -> ProcessTiming:
    """Sets up every arm here, then times them in rotating order so drift hits all alike."""
    fixtures = Fixtures(seed=seed)
    timed = arms.timed()
    with tempfile.TemporaryDirectory(prefix="bench-interleaved-") as scratch:
        prepared = _prepare_arms(name, arms, scratch, fixtures)
        loops = [_loops_for(case, sample_seconds) for case in prepared]
        per_call: list[list[float]] = [[] for _ in timed]
        for round_number in range(rounds):
            for index in round_order(len(timed), round_number):
                per_call[index].append(prepared[index].time(loops[index]) / loops[index])
    medians = [statistics.median(values) for values in per_call]
    baseline = medians.pop(0) if arms.baseline is not None else None
    return ProcessTiming(medians[0], baseline, medians[1] if arms.reference is not None else None)


Measure = Callable[[Sequence[str], int], dict[str, Timings]]


@dataclass(frozen=True)
class Engine:
    """How processes are timed: which arms, the fixtures' seed, rounds per process and each round's length."""

    arms: Arms
    seed: int
    rounds: int
    sample_seconds: float = DEFAULT_SAMPLE_SECONDS

    def measure(self, names: Sequence[str], processes: int) -> dict[str, Timings]:
        """`processes` fresh (spawned) processes per benchmark, one at a time, benchmarks interleaved across them."""
        return self.measure_each(dict.fromkeys(names, processes))

    def measure_each(self, wanted: Mapping[str, int]) -> dict[str, Timings]:
        """As many fresh processes as each benchmark is given, replicates interleaved across the benchmarks."""
        found: dict[str, list[ProcessTiming]] = {name: [] for name in wanted}
        total = sum(wanted.values())
        # One process per task, one task at a time: no two timings compete for the 2 cores.
        with (
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool,
            progress.task(f"timing {len(wanted)} benchmarks", total) as step,
        ):
            for replicate in range(max(wanted.values(), default=0)):
                for name, processes in wanted.items():
                    if replicate >= processes:
                        continue
                    step(f"{name} process {replicate + 1}/{processes}")
                    arguments = (name, self.arms, self.seed, self.rounds, self.sample_seconds)
                    task = pool.submit(time_in_this_process, *arguments)
                    found[name].append(task.result())
        return {name: Timings(name, tuple(found[name]), self.rounds, self.seed) for name in wanted}
