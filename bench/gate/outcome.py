"""A gate's verdict on one benchmark, as every renderer and the saved summary read it."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from bench.model.stats import RatioInterval
from bench.model.verdict import Verdict
from bench.rule import Band, Decision, detectable_slowdown
from bench.runners.interleaved import Timings


@dataclass
class Outcome:
    """One benchmark's verdict, the bounds it rests on and the processes behind them."""

    name: str
    verdict: Verdict
    interval: RatioInterval | None  # None: not measured (a saved benchmark missing now, say)
    band: Band | None
    processes: int
    timings: Timings | None = None
    note: str = ""
    # Timed once, for information, not to full power: its answers differ, so no speed verdict is wanted of it.
    informational: bool = False

    @classmethod
    def of(cls, name: str, decision: Decision, timings: Timings, note: str = "") -> Outcome:
        return cls(name, decision.verdict, decision.interval, decision.band, decision.processes, timings, note)

    @property
    def fails(self) -> bool:
        return self.verdict.fails

    def ratio_text(self) -> str:
        i = self.interval
        return "-" if i is None else f"{i.estimate:.4f} [{i.low:.4f}, {i.high:.4f}]"

    @property
    def seconds_per_call(self) -> float | None:
        """The slower side's median seconds per call: how many calls a count or a profile of it needs."""
        if self.timings is None:
            return None
        processes = self.timings.processes
        return max(
            statistics.median(p.candidate_s for p in processes),
            statistics.median(p.reference_s or 0.0 for p in processes),
        )

    @property
    def detectable(self) -> float | None:
        if self.interval is None or self.band is None or self.informational:
            return None
        return detectable_slowdown(self.interval, self.band)

    def to_json(self) -> dict[str, Any]:
        interval = self.interval
        finite = interval is not None and math.isfinite(interval.estimate)
        return {
            "name": self.name,
            "verdict": self.verdict.value,
            "fails": self.fails,
            "interval": None
            if interval is None or not finite
            else {
                "estimate": interval.estimate,
                "low": interval.low,
                "high": interval.high,
                "confidence": interval.confidence,
                "pairs": interval.pairs,
            },
            "band": None if self.band is None else {"ratio": self.band.ratio, "tolerance": self.band.tolerance},
            "processes": self.processes,
            "timings": None if self.timings is None else self.timings.to_json(),
            "note": self.note,
            "informational": self.informational,
            "detectable_slowdown": self.detectable,
        }
