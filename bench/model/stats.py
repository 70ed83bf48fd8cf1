"""Speedups over the baseline with bootstrap intervals: shared by the bench summary, the CI gate and the report.

Samples are per-process values (one number per worker process, e.g. the median of its timings),
paired by position: pair i of a candidate and of the baseline ran close together in time, so each
pair's ratio cancels most of the machine's drift. The estimate is the median of the paired ratios,
and its interval a percentile bootstrap over the pairs.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

CONFIDENCE: Final = 0.95
RESAMPLES: Final = 10_000


@dataclass(frozen=True)
class RatioInterval:
    """A median speedup (baseline time / candidate time: above 1 the candidate is faster) and its interval."""

    estimate: float
    low: float
    high: float
    confidence: float
    pairs: int


def paired_speedups(candidate_samples: Sequence[float], baseline_samples: Sequence[float]) -> list[float]:
    """baseline / candidate for each pair of per-process values taken close in time."""
    if len(candidate_samples) != len(baseline_samples):
        raise ValueError(
            f"samples must pair up: {len(candidate_samples)} candidate values, {len(baseline_samples)} baseline values"
        )
    if not candidate_samples:
        raise ValueError("no samples to pair")
    for value in (*candidate_samples, *baseline_samples):
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"a time must be positive and finite, got {value!r}")
    return [base / cand for cand, base in zip(candidate_samples, baseline_samples, strict=True)]


def ratio_interval(
    candidate_samples: Sequence[float],
    baseline_samples: Sequence[float],
    *,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> RatioInterval:
    """Median of the paired speedups, with a percentile-bootstrap interval (seeded: same data, same interval)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}")
    ratios = paired_speedups(candidate_samples, baseline_samples)
    rng = random.Random(seed)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = medians[int(tail * (resamples - 1))]
    high = medians[math.ceil((1 - tail) * (resamples - 1))]
    return RatioInterval(statistics.median(ratios), low, high, confidence, len(ratios))


@dataclass(frozen=True)
class TargetVerdict:
    """A speedup against its target: met or missed by the estimate, unsure where the interval reaches across it."""

    met: bool
    unsure: bool

    def __str__(self) -> str:
        return ("met" if self.met else "missed") + ("?" if self.unsure else "")


def verdict(interval: RatioInterval, target: float) -> TargetVerdict:
    """The estimate against the target; unsure where the interval reaches across it."""
    return TargetVerdict(met=interval.estimate >= target, unsure=interval.low < target <= interval.high)


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) binomial interval for successes/trials, by bisection on the binomial tail."""
    if not 0 <= successes <= trials or trials < 1:
        raise ValueError(f"need 0 <= successes <= trials, trials >= 1; got {successes}/{trials}")
    tail = (1 - confidence) / 2

    def at_most(k: int, p: float) -> float:
        return sum(math.comb(trials, i) * p**i * (1 - p) ** (trials - i) for i in range(k + 1))

    def solve(too_low: Callable[[float], bool]) -> float:
        low, high = 0.0, 1.0
        for _ in range(100):
            middle = (low + high) / 2
            low, high = (middle, high) if too_low(middle) else (low, middle)
        return (low + high) / 2

    # Upper: the p at which seeing at most `successes` has probability tail; lower: at least `successes`.
    upper = 1.0 if successes == trials else solve(lambda p: at_most(successes, p) > tail)
    lower = 0.0 if successes == 0 else solve(lambda p: 1 - at_most(successes - 1, p) < tail)
    return lower, upper


def scaling_exponent(sizes: Sequence[int], seconds: Sequence[float]) -> float | None:
    """The least-squares slope of log(time) on log(size): 1 is linear, 0 flat; None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    fit = statistics.linear_regression([math.log(s) for s in sizes], [math.log(t) for t in seconds])
    return fit.slope
