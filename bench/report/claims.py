"""The proposal's speed claims (../shared/seed, "Quick Reference"), as speedup ranges a measurement can test.

"30-50% faster" means the time falls by 30-50%: a speedup (baseline time / candidate time) of 1/0.7 to
1/0.5, i.e. 1.43x to 2x. "99% faster" means the time falls by 99%: 100x. "200-500x" is a speedup already.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from bench.model.stats import RatioInterval


class ClaimVerdict(enum.StrEnum):
    """A claim against what was measured; a StrEnum, so the report prints its text."""

    HOLDS = "holds"
    FAILS = "does not hold"
    PARTLY = "partly"
    UNMEASURED = "not measured"


HOLDS: Final = ClaimVerdict.HOLDS
FAILS: Final = ClaimVerdict.FAILS
PARTLY: Final = ClaimVerdict.PARTLY
UNMEASURED: Final = ClaimVerdict.UNMEASURED

VERDICT_RULES: Final = (
    f"At each size the claim speaks of, the measured speedup's 95% interval is set against the claimed range: "
    f"*{HOLDS}* when the interval lies within the range or above it (faster than claimed is no refutation), "
    f"*{FAILS}* when it lies wholly below the range, and it straddles when it reaches across the range's lower end. "
    f"Over the sizes: *{HOLDS}* or *{FAILS}* when every size says so, *{PARTLY}* otherwise "
    f"(a straddle, or holding at some sizes and not at others)."
)


def faster_by(low_percent: float, high_percent: float) -> tuple[float, float]:
    """ "X-Y% faster" (time falls by X to Y percent) as a speedup range."""
    return 1 / (1 - low_percent / 100), 1 / (1 - high_percent / 100)


@dataclass(frozen=True)
class Claim:
    """One sentence of the proposal: which benchmark it is about, at which sizes, and the speedup it means."""

    said: str  # the proposal's words
    operation: str  # the benchmark in bench.model.operations
    method: str  # the store method, as the equivalence suite names it in a counterexample
    sizes: tuple[int, ...]
    low: float
    high: float | None  # None: "at least"
    note: str = ""


CLAIMS: Final[tuple[Claim, ...]] = (
    Claim(
        "save_latency_stats(): 30-50% faster (for files with 5000+ measurements)",
        "save_latency_stats",
        "save_latency_stats",
        (5_000, 10_000),
        *faster_by(30, 50),
    ),
    Claim(
        "get_run_metrics(): 99% faster (cached)",
        "get_run_metrics_warm",
        "get_run_metrics",
        (5_000,),
        faster_by(99, 99)[0],
        None,
    ),
    Claim("compare_runs(): 10-15% faster", "compare_runs", "compare_runs", (5_000,), *faster_by(10, 15)),
    Claim("compare_runs(): 200-500x faster with caching", "compare_runs", "compare_runs", (5_000,), 200.0, 500.0),
    Claim(
        "get_recent_runs(): 50-80% faster for 1000+ runs",
        "get_recent_runs",
        "get_recent_runs",
        (1_000, 10_000),
        *faster_by(50, 80),
    ),
    Claim(
        "get_recent_runs(): 100 directories ~3-5% faster",
        "get_recent_runs",
        "get_recent_runs",
        (100,),
        *faster_by(3, 5),
        note="from the proposal's per-size list",
    ),
    Claim(
        "get_recent_runs(): 1,000 directories ~25-35% faster",
        "get_recent_runs",
        "get_recent_runs",
        (1_000,),
        *faster_by(25, 35),
        note="from the proposal's per-size list; its headline says 50-80% at 1000+",
    ),
)


def claimed_range(claim: Claim) -> str:
    """ "1.43x-2x", or "at least 100x"."""
    if claim.high is None:
        return f"at least {claim.low:.3g}x"
    return f"{claim.low:.3g}x-{claim.high:.3g}x"


def judge_size(interval: RatioInterval, claim: Claim) -> ClaimVerdict:
    """One size: within or above the range holds, wholly below fails, across its lower end straddles."""
    if interval.low >= claim.low:
        return HOLDS
    if interval.high < claim.low:
        return FAILS
    return PARTLY


def judge(intervals: Mapping[int, RatioInterval | None], claim: Claim) -> ClaimVerdict:
    """The claim's verdict over the sizes it speaks of; sizes not measured are left out, none measured says so."""
    verdicts = [judge_size(found, claim) for size in claim.sizes if (found := intervals.get(size)) is not None]
    if not verdicts:
        return UNMEASURED
    if all(v == HOLDS for v in verdicts):
        return HOLDS
    if all(v == FAILS for v in verdicts):
        return FAILS
    return PARTLY


def tally(verdicts: Sequence[ClaimVerdict]) -> dict[ClaimVerdict, int]:
    """How many of each verdict, in a fixed order, zeros left out."""
    order = (HOLDS, PARTLY, FAILS, UNMEASURED)
    return {v: n for v in order if (n := verdicts.count(v))}


@dataclass(frozen=True)
class MechanismClaim:
    """A claim of how a store works, tested on its calls per call of the builtins that reach the system."""

    said: str
    benchmark: str  # the case profiled (bench.jobs.mechanisms.CASES)
    counted: tuple[str, ...]  # the builtins whose calls per call are summed
    what: str  # what the sum is, as a table says it
    holds: Callable[[float, float], bool]  # (the candidate's sum, the baseline's) -> the claim holds
    rule: str


MECHANISM_CLAIMS: Final[tuple[MechanismClaim, ...]] = (
    MechanismClaim(
        'get_run_metrics(): EAFP, "single system call" where the original makes two (exists(), then read_text())',
        "get_run_metrics_cold[5000]",
        ("posix.stat", "io.open"),
        "stat + open calls per read",
        lambda mine, baseline: mine <= baseline - 1,
        "holds when a read makes at least one stat or open fewer than the baseline's",
    ),
    MechanismClaim(
        'get_run_metrics(): "in-memory metrics" (cached), no file read',
        "get_run_metrics_warm[5000]",
        ("posix.stat", "io.open"),
        "stat + open calls per warm read",
        lambda mine, baseline: mine == 0,
        "holds when a warm read touches no file at all",
    ),
    MechanismClaim(
        'save_latency_stats(): "parallel JSON+CSV writes"',
        "save_latency_stats[5000]",
        ("_thread.start_joinable_thread", "_thread.start_new_thread"),
        "threads started per save",
        lambda mine, baseline: mine >= 1,
        "holds when a save starts a thread to write beside the other (its wall time: the save's rows above)",
    ),
)


def mechanism_sum(counted: Mapping[str, float], claim: MechanismClaim) -> float:
    return sum(counted.get(name, 0.0) for name in claim.counted)
