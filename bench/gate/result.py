"""A whole gate run's result: the outcomes, the answers and counts beside them, as the renderers read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.gate.answers import Answers
from bench.gate.config import GateConfig
from bench.gate.counts import CountVerdict
from bench.gate.outcome import Outcome
from bench.gate.why import Why


@dataclass(frozen=True)
class Counted:
    """The gate's deterministic counts against a reference, with the rule's settings they were judged by."""

    verdicts: list[CountVerdict]
    reference: str  # the reference commit's short sha
    config: GateConfig


@dataclass
class GateResult:
    """One gate run: every benchmark's outcome, the answers and counts beside them, and what a reader needs to
    weigh them. What the commands print and publish is bench.report.gate_view's."""

    kind: str  # "against": a revision; "saved": the saved ratios
    what: str  # what was compared, e.g. "working tree against HEAD~1 (384ceb3f950f)"
    outcomes: list[Outcome]
    detail: list[str]  # the long form of every verdict, for --verbose and the folded Markdown
    rule: str
    context: dict[str, Any]
    seconds: float
    explanation: str = ""
    answers: Answers | None = None
    failed_answers: list[str] = field(default_factory=list)  # operations that differ but that no benchmark times
    counted: Counted | None = None
    notes: list[str] = field(default_factory=list)  # what was left out, and why
    whys: list[Why] = field(default_factory=list)  # each failing benchmark's diff, function by function

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.fails]

    @property
    def failed_counts(self) -> list[str]:
        return [v.name for v in self.counted.verdicts if v.fails] if self.counted is not None else []

    @property
    def passed(self) -> bool:
        return not self.failed and not self.failed_answers and not self.failed_counts

    @property
    def headline(self) -> str:
        failed = self.failed
        if not failed:
            text = f"no regression in {len(self.outcomes)} benchmarks: {self.what}"
        else:
            names = ", ".join(o.name for o in failed)
            verb = "fail" if len(failed) > 1 else "fails"
            text = f"{len(failed)} of {len(self.outcomes)} benchmarks {verb}: {names} ({self.what})"
        if self.failed_answers:
            text += f"; answers differ in {', '.join(self.failed_answers)}"
        if self.failed_counts:
            text += f"; counts grew in {', '.join(self.failed_counts)}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            **self.context,
            "outcomes": [o.to_json() for o in self.outcomes],
            "counts": [v.as_json() for v in self.counted.verdicts] if self.counted is not None else None,
            "why": [why.to_json() for why in self.whys],
        }
