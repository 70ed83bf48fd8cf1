"""Deciding on measured ratios: bands, verdicts, re-runs of the inconclusive, and confirmation in fresh processes."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bench.gate._measure import Measure, ProcessTiming
from bench.model.stats import CONFIDENCE, RatioInterval, ratio_interval
from bench.model.verdict import Verdict


@dataclass(frozen=True)
class Band:
    """The ratios that mean no change: ratio * (1 +- tolerance). A saved ratio's, or 1 +- e against a revision."""

    ratio: float
    tolerance: float  # a fraction of ratio

    @property
    def upper(self) -> float:
        return self.ratio * (1 + self.tolerance)

    @property
    def lower(self) -> float:
        return self.ratio * (1 - self.tolerance)


IntervalOf = Callable[[Sequence[ProcessTiming]], RatioInterval]


@dataclass
class Outcome:
    """One benchmark's verdict: regressed, improved, unchanged, or inconclusive after every re-run."""

    name: str
    verdict: Verdict
    interval: RatioInterval | None
    band: Band | None
    processes: int
    timings: list[ProcessTiming] = field(default_factory=list)
    note: str = ""  # how re-runs or the confirmation settled it

    @property
    def fails(self) -> bool:
        return self.verdict.fails

    def line(self) -> str:
        """The saved-ratio comparison's line."""
        if self.verdict is Verdict.MISSING:
            return f"MISSING    {self.name}: in the saved ratios but not measured now"
        if self.verdict is Verdict.UNSAVED:
            return f"UNSAVED    {self.name}: measured {ratio_text(self.interval)} but has no saved ratio (rebaseline)"
        band = self.band
        assert band is not None and self.interval is not None
        return (
            f"{self.verdict.shown + ' ':<11}{self.name}: candidate/baseline {ratio_text(self.interval)}, "
            f"saved {band.ratio:.4f} (tolerance {band.tolerance:.1%}, regression above {band.upper:.4f}), "
            f"{self.processes} processes" + (f"; {self.note}" if self.note else "")
        )


def ratio_text(interval: RatioInterval | None) -> str:
    if interval is None:
        return "-"
    return f"{interval.estimate:.4f} [{interval.low:.4f}, {interval.high:.4f}]"


def _baseline_times(timings: Sequence[ProcessTiming]) -> list[float]:
    times = [t.baseline_s for t in timings]
    if any(t is None for t in times):
        raise ValueError("timings without a baseline arm: it was not timed (gate --against without --baseline)")
    return [t for t in times if t is not None]


def has_baseline(timings: Sequence[ProcessTiming]) -> bool:
    return bool(timings) and all(t.baseline_s is not None for t in timings)


def cost_ratio(timings: Sequence[ProcessTiming], confidence: float = CONFIDENCE) -> RatioInterval:
    """Median over processes of candidate/baseline, with its bootstrap interval over processes."""
    # stats.ratio_interval gives baseline/candidate speedups; handing it the pairs swapped gives cost ratios.
    return ratio_interval(_baseline_times(timings), [t.candidate_s for t in timings], confidence=confidence)


def _reference_times(timings: Sequence[ProcessTiming]) -> list[float]:
    times = [t.reference_s for t in timings]
    if any(t is None for t in times):
        raise ValueError("timings without a reference arm: they were not measured --against a revision")
    return [t for t in times if t is not None]


def against_ratio(timings: Sequence[ProcessTiming], confidence: float = CONFIDENCE) -> RatioInterval:
    """Median over processes of working tree / revision, with its bootstrap interval over processes."""
    return ratio_interval(_reference_times(timings), [t.candidate_s for t in timings], confidence=confidence)


def reference_cost_ratio(timings: Sequence[ProcessTiming]) -> RatioInterval:
    """The revision's store / the frozen baseline, from the same processes."""
    return ratio_interval(_baseline_times(timings), _reference_times(timings))


def decide(interval: RatioInterval, band: Band) -> Verdict:
    """regressed / improved only when the whole interval is past the band; wholly inside it, unchanged."""
    if interval.low > band.upper:
        return Verdict.REGRESSED
    if interval.high < band.lower:
        return Verdict.IMPROVED
    if band.lower <= interval.low and interval.high <= band.upper:
        return Verdict.UNCHANGED
    return Verdict.INCONCLUSIVE


def detectable_slowdown(interval: RatioInterval, band: Band) -> float:
    """The smallest slowdown this interval would have caught: shifted up by it, it lies wholly above the band."""
    if interval.low <= 0:
        return math.inf
    return (1 + band.tolerance) * interval.estimate / interval.low - 1


def judge(
    names: list[str],
    bands: Mapping[str, Band],
    measure: Measure,
    processes: int,
    max_reruns: int,
    interval_of: IntervalOf = cost_ratio,
) -> list[Outcome]:
    """Measure; pool more processes into the inconclusive (bounded); confirm every regression afresh.

    A regression fails only if fresh processes show it again (regressed, or an estimate past the
    limit): one noisy burst on a shared machine must not fail CI, a real regression persists.
    Whatever stays inconclusive after the re-runs fails only if its estimate is past the limit and fresh
    processes then show the whole interval past it.
    """

    def outcome(name: str, timings: list[ProcessTiming]) -> Outcome:
        interval = interval_of(timings)
        return Outcome(name, decide(interval, bands[name]), interval, bands[name], len(timings), timings)

    timings = measure(names, processes)
    outcomes = {name: outcome(name, timings[name]) for name in names}
    for _ in range(max_reruns):
        unsettled = [name for name, o in outcomes.items() if o.verdict is Verdict.INCONCLUSIVE]
        if not unsettled:
            break
        more = measure(unsettled, processes)
        for name in unsettled:
            outcomes[name] = outcome(name, outcomes[name].timings + more[name])

    suspects = [name for name, o in outcomes.items() if o.verdict is Verdict.REGRESSED]
    if suspects:
        again = measure(suspects, processes)
        for name in suspects:
            confirmation = outcome(name, again[name])
            if _past_limit(confirmation):
                outcomes[name].note = f"confirmed in fresh processes: {ratio_text(confirmation.interval)}"
            else:
                outcomes[name].verdict = Verdict.UNCHANGED
                outcomes[name].note = f"regression not confirmed: {ratio_text(confirmation.interval)}"

    # Still inconclusive: an estimate past the limit is a suspect like any other, and fails only if fresh
    # processes put the whole interval past the limit (calibration: deciding by the estimate alone gave
    # the false alarms on save_latency_stats[1000]).
    leaning = [name for name, o in outcomes.items() if o.verdict is Verdict.INCONCLUSIVE and _past_limit(o)]
    again = measure(leaning, processes) if leaning else {}
    for name, settled in outcomes.items():
        if settled.verdict is not Verdict.INCONCLUSIVE:
            continue
        if name not in again:
            settled.verdict = Verdict.UNCHANGED
            settled.note = "inconclusive, estimate within the limit"
            continue
        confirmation = outcome(name, again[name])
        if confirmation.verdict is Verdict.REGRESSED:
            settled.verdict = Verdict.REGRESSED
            settled.note = f"estimate past the limit, confirmed: {ratio_text(confirmation.interval)}"
        else:
            settled.verdict = Verdict.UNCHANGED
            settled.note = f"inconclusive, not confirmed: {ratio_text(confirmation.interval)}"
    return list(outcomes.values())


def _past_limit(outcome: Outcome) -> bool:
    assert outcome.interval is not None and outcome.band is not None
    if outcome.verdict is Verdict.REGRESSED:
        return True
    return outcome.verdict is Verdict.INCONCLUSIVE and outcome.interval.estimate > outcome.band.upper
