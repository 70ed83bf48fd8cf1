"""A store's answers against the frozen original, as the quick pass finds them and history points and the gate keep
them: typed here, saved as the JSON object that history-point.v2's `equivalence` holds (schemas/saved/).

Points saved before the collector was judged, or before each operation's why was kept, load with those fields
empty; a record saves back to the same keys, so a point rewritten is the point it was.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from bench.errors import UsageError


class Equivalence(enum.StrEnum):
    """A candidate's answers against the baseline's, as saved in results/equivalence.json and in answer records."""

    IDENTICAL = "identical"  # every property that applies passed
    DIFFERS = "differs"  # a property found a counterexample
    NOT_CHECKED = "not checked"  # nothing ran, or was skipped


@dataclass(frozen=True)
class CollectorAnswers:
    """The revision's collector against the original's: its verdict, and its first difference where it differs."""

    verdict: str
    first_difference: str | None = None


@dataclass(frozen=True)
class AnswerRecord:
    """The store's verdict, the operations that answer otherwise (each with why), and its collector's verdict."""

    verdict: str
    differs_in: tuple[str, ...] = ()
    why: dict[str, str] = field(default_factory=dict)
    profile: str | None = None
    tests: int | None = None
    failed: int | None = None
    not_applicable: int | None = None
    first_counterexample: str | None = None
    collector: CollectorAnswers | None = None

    def __post_init__(self) -> None:
        if self.verdict not in set(Equivalence):
            known = ", ".join(Equivalence)
            raise UsageError(f"an answer record's verdict is {self.verdict!r}, not one of {known}")
        if set(self.why) - set(self.differs_in):
            raise UsageError(f"an answer record explains {sorted(set(self.why) - set(self.differs_in))}, which agree")

    def store_text(self) -> str:
        """'differs in get_run_metrics, compare_runs', or the verdict alone."""
        return self.verdict + (f" in {', '.join(self.differs_in)}" if self.differs_in else "")

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"verdict": self.verdict, "differs_in": list(self.differs_in), "why": dict(self.why)}
        document.update(
            profile=self.profile,
            tests=self.tests,
            failed=self.failed,
            not_applicable=self.not_applicable,
            first_counterexample=self.first_counterexample,
        )
        if self.collector is not None:
            document["collector_answers"] = {
                "verdict": self.collector.verdict,
                "first_difference": self.collector.first_difference,
            }
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> AnswerRecord:
        """From a saved record (checked against its schema where it was loaded)."""
        collector = document.get("collector_answers")
        return cls(
            verdict=document["verdict"],
            differs_in=tuple(document["differs_in"]),
            why=dict(document.get("why") or {}),
            profile=document.get("profile"),
            tests=document.get("tests"),
            failed=document.get("failed"),
            not_applicable=document.get("not_applicable"),
            first_counterexample=document.get("first_counterexample"),
            collector=None
            if collector is None
            else CollectorAnswers(collector["verdict"], collector.get("first_difference")),
        )
