"""History and find replayed on resampled processes: how often each names a step that is not there, and how often
it names a planted one at the right commit. The same functions decide as in a real run (bench.rule.decide,
bench.history.bisect.first_slow): only the processes are drawn from measured A/A ones."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.history.bisect import first_slow
from bench.model.verdict import Verdict
from bench.rule import Band, Decision, Design, decide

NAMED = (Verdict.REGRESSED, Verdict.IMPROVED)


def past_band(decision: Decision) -> bool:
    """History's pursuit: only a step the estimate already shows gets more processes."""
    return decision.past_band


@dataclass(frozen=True)
class HistoryRates:
    """Of `runs` simulated histories: the share with any step named where none was planted, and per benchmark the
    share that named the planted step at its commit."""

    runs: int
    false_histories: float
    detected: dict[str, float]


def simulated_histories(
    pools: Mapping[str, Sequence[float]],
    bands: Mapping[str, Band],
    design: Design,
    commits: int,
    runs: int,
    planted: tuple[int, float] | None = None,
    seed: int = 0,
) -> HistoryRates:
    """Histories of `commits` commits: every position 1..commits-1 of every benchmark draws its processes with
    replacement from that benchmark's measured A/A step values (log(commit / previous), as history times them);
    planted (position, log step) moves every benchmark's values at that position, as a commit slowing every
    method would."""
    rng = random.Random(seed)
    tests = (commits - 1) * len(pools)
    false_histories = 0
    detected = dict.fromkeys(pools, 0)
    for _ in range(runs):
        false_step = False
        for name, pool in pools.items():
            for position in range(1, commits):
                shift = planted[1] if planted is not None and position == planted[0] else 0.0
                values = [v + shift for v in rng.choices(pool, k=design.looks[-1])]
                verdict = decide(values, bands[name], design, tests, pursue=past_band).verdict
                if shift and verdict is Verdict.REGRESSED:
                    detected[name] += 1
                elif not shift and verdict in NAMED:
                    false_step = True
        false_histories += false_step
    return HistoryRates(runs, false_histories / runs, {name: hits / runs for name, hits in detected.items()})


def simulated_bisections(
    pool: Sequence[float], band: Band, design: Design, commits: int, first: int, step: float, runs: int, seed: int = 0
) -> float:
    """The share of `runs` bisections of `commits` commits, the step `step` (a log ratio) from commit `first` on,
    whose first slow commit is `first`: each probe's processes drawn from measured A/A ones of the gate's settings,
    moved by the step from `first` on, and decided by the gate's rule as find decides them."""
    rng = random.Random(seed)
    right = 0

    def slow(index: int) -> bool:
        shift = step if index >= first else 0.0
        values = [v + shift for v in rng.choices(pool, k=design.looks[-1])]
        return decide(values, band, design, 1).verdict is Verdict.REGRESSED

    for _ in range(runs):
        found = first_slow(commits, slow)
        right += found is not None and found.first == first
    return right / runs
