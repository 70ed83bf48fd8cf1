"""The rule (bench.rule) over the engine (bench.runners.interleaved): benchmarks timed and judged, more processes
only for the undecided, each decision with every process it rests on."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.errors import UsageError
from bench.gate.config import GateConfig
from bench.gate.outcome import Outcome
from bench.model.fixtures import DEFAULT_SEED
from bench.model.operations import case_name, cases, find_case
from bench.model.verdict import Verdict
from bench.rule import MIN_PROCESSES, Band, Decision, Design, judge_sequential, shown
from bench.runners.interleaved import Engine, Over, Timings

DEFAULT_CANDIDATE: Final = "optimized"
DEFAULT_PROCESSES: Final = 8
DEFAULT_ROUNDS: Final = 9  # interleaved timing rounds per process (odd: the median is one of them)
DEFAULT_MAX_RERUNS: Final = 2


@dataclass(frozen=True)
class Timing:
    """How the gate times: fresh processes per benchmark, rounds in each, further looks of the undecided, the seed."""

    processes: int = DEFAULT_PROCESSES
    rounds: int = DEFAULT_ROUNDS
    max_reruns: int = DEFAULT_MAX_RERUNS
    seed: int = DEFAULT_SEED
    # Against a revision, the frozen baseline is timed only for the information beside each verdict: it is the
    # slowest arm (up to 20 times the store's call), so left out by default the gate gets more processes per minute.
    baseline: bool = False

    def __post_init__(self) -> None:
        if self.processes < MIN_PROCESSES or self.rounds < 1 or self.max_reruns < 0:
            raise UsageError(f"need --processes >= {MIN_PROCESSES}, --rounds >= 1, --max-reruns >= 0")

    def design(self, config: GateConfig) -> Design:
        """The rule's looks: --processes at the first, as many more at each of --max-reruns further looks."""
        return Design.every(self.processes, self.max_reruns, config.false_alarm_rate)


def selected(only: Sequence[str] | None) -> list[str]:
    """The benchmarks --only names (each checked), else every one of the table."""
    if not only:
        return [case_name(op, size) for op, size in cases()]
    return [case_name(*find_case(name)) for name in only]


Destinations = tuple[Path | None, Path | None]  # --markdown, --json


def judge_timed(
    engine: Engine,
    bands: Mapping[str, Band],
    design: Design,
    over: Over,
    *,
    offsets: Mapping[str, float] | None = None,
    tests: int | None = None,
) -> dict[str, tuple[Decision, Timings]]:
    """The rule on each benchmark's log(candidate / `over`) per process, less its offset (a saved log ratio), with
    more processes only for the undecided; each decision with every process it rests on."""
    pooled: dict[str, Timings] = {}

    def more(wanted: Mapping[str, int]) -> dict[str, list[float]]:
        found = engine.measure_each(wanted)
        for name, timings in found.items():
            pooled[name] = pooled[name] + timings if name in pooled else timings
        shift = offsets or {}
        return {name: [v - shift.get(name, 0.0) for v in t.log_ratios(over)] for name, t in found.items()}

    decisions = judge_sequential(bands, more, design, tests=tests)
    return {name: (decisions[name], pooled[name]) for name in bands}


def informational(
    engine: Engine, names: Sequence[str], over: Over, verdict: Verdict, note: Callable[[str], str]
) -> list[Outcome]:
    """Benchmarks timed once at the rule's least processes, for information: a ratio and its 95% interval."""
    if not names:
        return []
    found = engine.measure(names, MIN_PROCESSES)
    return [
        Outcome(name, verdict, shown(t.log_ratios(over)), None, len(t), t, note(name), informational=True)
        for name, t in found.items()
    ]
