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
from collections.abc import Sequence
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
