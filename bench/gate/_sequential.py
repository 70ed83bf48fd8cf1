"""The wall-clock rule against a revision: one sequential test per benchmark, more processes only where undecided.

Each fresh worker process gives, per benchmark, d = log(working tree / revision) of its interleaved medians. The
ratio the gate judges is exp of the 10%-trimmed mean of the d values (none set aside of 8, one at each end of 16,
two of 24). At look k of K (n_k processes pooled so far),
a benchmark still open gets one-sided bounds on it, Yuen's trimmed t (the trimmed mean, the Winsorized spread,
n - 2g - 1 degrees of freedom for g values trimmed each side) at level a' = a / (M * K) each side (M benchmarks in
the run, a the false-alarm rate for the whole run, pyproject.toml):

- regressed, and decided, when the lower bound lies above log(1 + e);
- decided as no regression when the upper bound lies below log(1 + e) (improved if also below log(1 - e));
- otherwise open: the next look adds processes to it alone, up to the last look's count.

Still open after the last look: inconclusive, which passes, with the smallest slowdown it could have caught.

Why trimmed: a save of 10,000 measurements is one 22 ms call per round, and now and then one store's arm is slow for a
whole process (one A/A process measured the revision's save 18% slower in all of its 27 rounds). Student's t on the
plain mean let one such process blur a benchmark past the last look; the trimmed mean sets it aside from the second
look on, and the Winsorized spread does not let it widen the bound. Why only 10%: at 20% (one of 6 set aside) Yuen's
t was liberal this far in the tail, 6.9% false alarms in 4,000 simulated gates of normal processes at the worst
case; at 10% it gave 4.6% of 10,000, and plain t 4.1% of 4,000 (tests/harness/test_sequential.py checks it).

Why the whole run's false-alarm rate is at most a: a false alarm needs some benchmark whose true ratio is at most
1 + e to show a lower bound above log(1 + e) at some look. There are M * K such events, each with probability at most
a' when the trimmed t statistic follows its t distribution (exact for normal d values, Yuen's approximation
otherwise; the level only falls as the true ratio falls below 1 + e), so by the union bound their union has at
most M * K * a' = a. Stopping early, and adding processes only to the open benchmarks, removes events and adds
none. Processes are independent by construction (each is spawned fresh, benchmarks interleaved across them); the
shape of the d values is the assumption, and `calibrate` checks it: it resamples the A/A runs' own per-process
values, moved to the worst case (a true ratio of exactly 1 + e), through this rule (bench.gate.gate_report).

This replaces a first stage plus a confirmation in fresh processes: a confirmation of 6 processes at the
Bonferroni level spanned nearly its whole range and threw away clear detections (issue 30).
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from scipy import stats as scipy_stats

from bench.gate._decide import Band, Outcome
from bench.gate._measure import Measure, ProcessTiming
from bench.model.stats import RatioInterval
from bench.model.verdict import Verdict

MIN_PROCESSES: Final = 3  # a t bound needs a spread: two processes give one degree of freedom
TRIM: Final = 0.1  # the share set aside at each end, rounded down: none of 8, 1 of 16, 2 of 24


@dataclass(frozen=True)
class Design:
    """When the rule looks: cumulative processes per benchmark at each look, and the whole run's false-alarm rate."""

    looks: tuple[int, ...]
    false_alarm_rate: float

    def __post_init__(self) -> None:
        if not self.looks or self.looks[0] < MIN_PROCESSES or list(self.looks) != sorted(set(self.looks)):
            raise ValueError(f"looks must rise from at least {MIN_PROCESSES} processes: {self.looks}")

    @classmethod
    def every(cls, processes: int, extra_looks: int, false_alarm_rate: float) -> Design:
        """Looks at processes, 2 * processes, ... : the first look and `extra_looks` more, each as large."""
        return cls(tuple(processes * (k + 1) for k in range(extra_looks + 1)), false_alarm_rate)

    def level(self, benchmarks: int) -> float:
        """Each one-sided bound's level: the run's rate shared out over every benchmark and every look."""
        return self.false_alarm_rate / (benchmarks * len(self.looks))


def log_ratios(timings: Sequence[ProcessTiming]) -> list[float]:
    """log(working tree / revision) per process."""
    values = []
    for t in timings:
        if t.reference_s is None:
            raise ValueError("timings without a reference arm: they were not measured --against a revision")
        values.append(math.log(t.candidate_s / t.reference_s))
    return values


def trimmed_mean(values: Sequence[float]) -> float:
    """The mean of the values left after setting aside the TRIM share at each end."""
    g = int(TRIM * len(values))
    ordered = sorted(values)
    return statistics.fmean(ordered[g : len(values) - g])


def bounds(values: Sequence[float], level: float) -> RatioInterval:
    """exp of the trimmed mean and of its one-sided Yuen bounds at `level` each side (a 1 - 2 level interval)."""
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


@functools.lru_cache(maxsize=256)
def _t_quantile(level: float, degrees: int) -> float:
    return float(scipy_stats.t.ppf(1 - level, degrees))


def settle(interval: RatioInterval, band: Band) -> Verdict:
    """REGRESSED above the band; UNCHANGED or IMPROVED once a regression is ruled out; else INCONCLUSIVE (open)."""
    if interval.low > band.upper:
        return Verdict.REGRESSED
    if interval.high < band.lower:
        return Verdict.IMPROVED
    if interval.high < band.upper:
        return Verdict.UNCHANGED
    return Verdict.INCONCLUSIVE


def decide_sequence(values: Sequence[float], looks: Sequence[int], level: float, band: Band) -> tuple[Verdict, int]:
    """The rule applied to a benchmark's per-process values in order: (verdict, processes used).

    The same function decides the gate and the calibration's resampled runs, so what is proven is what runs.
    """
    verdict = Verdict.INCONCLUSIVE
    used = 0
    for n in looks:
        if n > len(values):
            break
        used = n
        verdict = settle(bounds(values[:n], level), band)
        if verdict is not Verdict.INCONCLUSIVE:
            break
    return verdict, used


def judge_sequential(names: list[str], bands: Mapping[str, Band], measure: Measure, design: Design) -> list[Outcome]:
    """Measures every benchmark to the first look, then only the open ones to each next look."""
    level = design.level(len(names))
    timings: dict[str, list[ProcessTiming]] = {name: [] for name in names}
    outcomes: dict[str, Outcome] = {}
    open_names = list(names)
    for number, n in enumerate(design.looks, start=1):
        more = measure(open_names, n - (design.looks[number - 2] if number > 1 else 0))
        for name in open_names:
            timings[name] += more[name]
            interval = bounds(log_ratios(timings[name]), level)
            verdict = settle(interval, bands[name])
            outcomes[name] = Outcome(name, verdict, interval, bands[name], n, list(timings[name]))
            outcomes[name].note = f"look {number}/{len(design.looks)}"
        open_names = [name for name in open_names if outcomes[name].verdict is Verdict.INCONCLUSIVE]
        if not open_names:
            break
    for name in open_names:
        outcomes[name].note = f"still inconclusive after the last look ({design.looks[-1]} processes): passes"
    return [outcomes[name] for name in names]


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
    their trimmed mean (the ratio the rule judges) and moved by `shift`. With shift = log(1 + e) this is the rule's
    false-alarm rate at the worst case the proof allows (a true ratio of exactly 1 + e) under the measured
    distribution rather than a normal one; with shift = log(1.10), its power against +10%.
    """
    rng = random.Random(seed)
    centred = {name: [v - trimmed_mean(values) + shift for v in values] for name, values in samples.items()}
    level = design.level(len(samples))
    any_hits = 0
    hits = dict.fromkeys(samples, 0)
    for _ in range(runs):
        hit = False
        for name, values in centred.items():
            drawn = rng.choices(values, k=design.looks[-1])
            if decide_sequence(drawn, design.looks, level, bands[name])[0] is Verdict.REGRESSED:
                hits[name] += 1
                hit = True
        any_hits += hit
    return any_hits / runs, {name: count / runs for name, count in hits.items()}
