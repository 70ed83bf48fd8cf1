"""The one decision rule: is a ratio past its band? Every verdict on speed (gate, find, a history's steps, the saved
ratios) is this sequential trimmed-t test on per-process log ratios, so what `calibrate` proves is what runs.

At look k of K (n_k processes pooled so far), a key still open gets Yuen's trimmed-t bounds on the 10%-trimmed mean
of its values, at level a / (tests * K * sides) each: regressed when the lower bound lies above log(upper), improved
when the upper bound lies below log(lower), settled as no change once the bound is wholly inside the band. By the
union bound over keys, looks and sides, a run of unchanged code fails with at most a; GATE.md measures the real rate.
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from scipy import stats as scipy_stats

from bench.model.stats import RatioInterval
from bench.model.verdict import Verdict

MIN_PROCESSES: Final = 3  # a t bound needs a spread: two processes give one degree of freedom
TRIM: Final = 0.1  # the share set aside at each end, rounded down: none of 8, 1 of 16, 2 of 24
SHOWN_LEVEL: Final = 0.025  # an interval shown for information only: 95%, two-sided

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Band:
    """The ratios that mean no change: ratio * (1 +- tolerance). 1 +- e against a revision; a saved ratio's own."""

    ratio: float
    tolerance: float  # a fraction of ratio

    @property
    def upper(self) -> float:
        return self.ratio * (1 + self.tolerance)

    @property
    def lower(self) -> float:
        return self.ratio * (1 - self.tolerance)


@dataclass(frozen=True)
class Design:
    """When the rule looks (cumulative processes per key), the run's false-alarm rate, and the question's sides:
    one (slower than the band?) for a gate, two (moved out of it either way?) for a history's steps."""

    looks: tuple[int, ...]
    false_alarm_rate: float
    two_sided: bool = False

    def __post_init__(self) -> None:
        if not self.looks or self.looks[0] < MIN_PROCESSES or list(self.looks) != sorted(set(self.looks)):
            raise ValueError(f"looks must rise from at least {MIN_PROCESSES} processes: {self.looks}")

    @classmethod
    def every(cls, processes: int, extra_looks: int, false_alarm_rate: float, *, two_sided: bool = False) -> Design:
        """Looks at processes, 2 * processes, ... : the first look and `extra_looks` more, each as large."""
        return cls(tuple(processes * (k + 1) for k in range(extra_looks + 1)), false_alarm_rate, two_sided)

    def level(self, tests: int) -> float:
        """Each one-sided bound's level: the run's rate shared out over every test, look and side."""
        return self.false_alarm_rate / (max(tests, 1) * len(self.looks) * (2 if self.two_sided else 1))


@dataclass(frozen=True)
class Decision:
    """What the rule said of one key: the verdict, the bounds it was decided on, after how many processes."""

    verdict: Verdict
    interval: RatioInterval
    band: Band
    processes: int
    look: int  # 1-based; the last look for a key still open
    looks: int

    @property
    def open(self) -> bool:
        return self.verdict is Verdict.INCONCLUSIVE

    @property
    def past_band(self) -> bool:
        """The estimate alone lies outside the band: worth more processes where it is still open."""
        return not self.band.lower <= self.interval.estimate <= self.band.upper

    @property
    def detectable(self) -> float:
        """The smallest slowdown these bounds would have caught."""
        return detectable_slowdown(self.interval, self.band)


def trimmed_mean(values: Sequence[float]) -> float:
    """The mean of the values left after setting aside the TRIM share at each end."""
    g = int(TRIM * len(values))
    ordered = sorted(values)
    return statistics.fmean(ordered[g : len(values) - g])


def bounds(values: Sequence[float], level: float) -> RatioInterval:
    """exp of the trimmed mean and of its one-sided Yuen bounds at `level` each side (a 1 - 2 level interval).

    Why trimmed: now and then one store's arm is slow for a whole process (one A/A process measured a save 18%
    slower in all its rounds); the trimmed mean sets it aside from the second look on, and the Winsorized spread
    does not let it widen the bound. At 20% Yuen's t was liberal this far in the tail; at 10% it held
    (tests/harness/test_rule.py).
    """
    n = len(values)
    if n < MIN_PROCESSES:
        raise ValueError(f"a t bound needs at least {MIN_PROCESSES} processes, got {n}")
    g = int(TRIM * n)
    ordered = sorted(values)
    low_edge, high_edge = ordered[g], ordered[n - g - 1]
    winsorized = [min(max(value, low_edge), high_edge) for value in values]
    error = statistics.stdev(winsorized) / ((1 - 2 * g / n) * math.sqrt(n))
    centre = trimmed_mean(values)
    half = _t_quantile(level, n - 2 * g - 1) * error
    return RatioInterval(math.exp(centre), math.exp(centre - half), math.exp(centre + half), 1 - 2 * level, n)


@functools.lru_cache(maxsize=1024)
def _t_quantile(level: float, degrees: int) -> float:
    return float(scipy_stats.t.ppf(1 - level, degrees))


def settle(interval: RatioInterval, band: Band, *, two_sided: bool = False) -> Verdict:
    """REGRESSED above the band, IMPROVED below it; no change once ruled out (one-sided: no slowdown; two-sided:
    the bounds wholly inside the band): UNCHANGED; else INCONCLUSIVE (open)."""
    if interval.low > band.upper:
        return Verdict.REGRESSED
    if interval.high < band.lower:
        return Verdict.IMPROVED
    if interval.high < band.upper and (not two_sided or interval.low > band.lower):
        return Verdict.UNCHANGED
    return Verdict.INCONCLUSIVE


def decide(
    values: Sequence[float],
    band: Band,
    design: Design,
    tests: int,
    pursue: Callable[[Decision], bool] | None = None,
) -> Decision:
    """The rule replayed on one key's values in the order they were measured: decided at the first look that
    decides, else open at the last look the values reach (or the first that `pursue` would not go beyond). The same
    function decides while measuring, from saved values, and in the calibration's resampled runs: what is proven
    is what runs."""
    level = design.level(tests)
    reached = [n for n in design.looks if n <= len(values)]
    if not reached:
        raise ValueError(f"{len(values)} processes do not reach the first look ({design.looks[0]})")
    for look, n in enumerate(reached, start=1):
        interval = bounds(values[:n], level)
        decision = Decision(
            settle(interval, band, two_sided=design.two_sided), interval, band, n, look, len(design.looks)
        )
        if not decision.open or (pursue is not None and not pursue(decision)):
            break
    return decision


def shown(values: Sequence[float]) -> RatioInterval:
    """A ratio for information only (95%, two-sided): a level, or a benchmark whose answers differ."""
    return bounds(values, SHOWN_LEVEL)


def detectable_slowdown(interval: RatioInterval, band: Band) -> float:
    """The smallest slowdown these bounds would have caught: with the true ratio the band's own ratio slowed by it,
    bounds as wide (relative to their estimate) would lie wholly above the band. Relative to the band's ratio, so a
    saved ratio's band, far below 1, reads as a slowdown, never as a negative one."""
    if interval.low <= 0:
        return math.inf
    return (1 + band.tolerance) * interval.estimate / interval.low - 1


More = Callable[[Mapping[K, int]], Mapping[K, Sequence[float]]]


def judge_sequential(
    bands: Mapping[K, Band],
    more: More[K],
    design: Design,
    *,
    pursue: Callable[[K, Decision], bool] | None = None,
    tests: int | None = None,
) -> dict[K, Decision]:
    """Measures every key to the first look, then the open ones (those `pursue` keeps; default all) to each next
    look. `more(wanted)` returns each wanted key's further values, in order. Not measuring a key further only
    removes chances of a false alarm, so the bound over `tests` (default: the keys) holds whatever `pursue` says."""
    values: dict[K, list[float]] = {key: [] for key in bands}
    decisions: dict[K, Decision] = {}
    wanted = {key: design.looks[0] for key in bands}
    count = len(bands) if tests is None else tests
    while wanted:
        for key, found in more(wanted).items():
            values[key] += found
        for key in wanted:
            decisions[key] = decide(values[key], bands[key], design, count)
        wanted = {
            key: _next_look(design, len(values[key])) - len(values[key])
            for key, decision in decisions.items()
            if decision.open and len(values[key]) < design.looks[-1] and (pursue is None or pursue(key, decision))
        }
    return decisions


def _next_look(design: Design, measured: int) -> int:
    return next(n for n in design.looks if n > measured)


def resampled_rates(
    samples: Mapping[str, Sequence[float]],
    shift: float,
    design: Design,
    bands: Mapping[str, Band],
    runs: int,
    seed: int = 0,
) -> tuple[float, dict[str, float]]:
    """(share of `runs` simulated whole gates with any REGRESSED verdict, each benchmark's share REGRESSED).

    Each benchmark's processes are drawn with replacement from its measured per-process log ratios, recentred on
    their trimmed mean and moved by `shift`. With shift = log(1 + e) this is the rule's false-alarm rate at the
    worst case the proof allows (a true ratio of exactly 1 + e) under the measured distribution rather than a
    normal one; with shift = log(1.10), its power against +10%.
    """
    rng = random.Random(seed)
    centred = recentred(samples, shift)
    any_hits = 0
    hits = dict.fromkeys(samples, 0)
    for _ in range(runs):
        hit = False
        for name, values in centred.items():
            drawn = rng.choices(values, k=design.looks[-1])
            if decide(drawn, bands[name], design, len(samples)).verdict is Verdict.REGRESSED:
                hits[name] += 1
                hit = True
        any_hits += hit
    return any_hits / runs, {name: count / runs for name, count in hits.items()}


def recentred(samples: Mapping[str, Sequence[float]], shift: float) -> dict[str, list[float]]:
    """Each key's values moved so their trimmed mean (what the rule judges) is exactly `shift`."""
    return {name: [v - trimmed_mean(values) + shift for v in values] for name, values in samples.items()}


# --- deterministic counts ---------------------------------------------------------------------------------------


def count_verdict(candidate: float, reference: float, *, relative: float = 0.0, absolute: float = 0.0) -> Verdict:
    """A count has no interval: the same code, inputs and environment count the same, so its band is a tolerance
    measured between runs of the same code (A/A, results/GATE.md). A growth past it is a regression, a fall past it
    an improvement."""
    allowed = max(relative * reference, absolute)
    if candidate - reference > allowed:
        return Verdict.REGRESSED
    if reference - candidate > allowed:
        return Verdict.IMPROVED
    return Verdict.UNCHANGED
