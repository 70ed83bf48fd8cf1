"""The gate's answers beside its speed: the working tree's store and the reference's, each through the quick pass of
the equivalence suite that history runs on every commit (bench.runners.equivalence).

A speed-up is worth something only with the original's answers: a benchmark whose store method answers otherwise
than the frozen original's reads ANSWERS DIFFER, never IMPROVED, and fails the gate unless different answers are
allowed (--allow-different-answers), when the speed verdict stands with the difference noted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench.gate.outcome import Outcome
from bench.model.answer_record import AnswerRecord
from bench.model.operations import find_case
from bench.model.verdict import Verdict
from bench.runners import equivalence
from bench.runners.interleaved import Arm
from bench.stores.snapshot import Snapshot


@dataclass(frozen=True)
class Answers:
    """Both sides' answer records (the quick pass's, bench.runners.equivalence), and whether differences may pass."""

    working: AnswerRecord
    reference: AnswerRecord
    allowed: bool
    collector_changed: bool | None  # the collector's source since the reference; None where unknown
    reference_short: str = ""  # the reference's commit, short

    @property
    def differs_in(self) -> list[str]:
        return list(self.working.differs_in)

    @property
    def fail(self) -> bool:
        """Whether the working tree's answers fail the gate on their own."""
        return bool(self.differs_in) and not self.allowed

    def summary(self) -> str:
        """Both sides' store verdicts on one line, and whether the collector changed."""

        collector = "; collector changed" if self.collector_changed else ""
        where = self.reference_short or "the reference"
        return f"working tree {self.working.store_text()}; at {where} {self.reference.store_text()}{collector}"

    def lines(self, reference: Snapshot) -> list[str]:
        text = [
            f"answers against the frozen original (the quick pass history runs, profile {equivalence.QUICK_PROFILE}):"
        ]
        text.append(f"  working tree: {equivalence.answers_text(self.working, self.collector_changed)}")
        text += [f"    {operation}: {why}" for operation, why in self.working.why.items()]
        text.append(f"  at {reference.commit[:12]}: {equivalence.answers_text(self.reference)}")
        if self.differs_in:
            what = "allowed (--allow-different-answers): speed verdicts stand" if self.allowed else "the gate fails"
            text.append(f"  the working tree's store answers otherwise than the original: {what}")
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "working_tree": self.working.to_json(),
            "reference": self.reference.to_json(),
            "allowed": self.allowed,
            "collector_changed": self.collector_changed,
        }


def check(candidate: Arm, reference: Snapshot, *, allowed: bool) -> Answers:
    """The quick pass on both sides, a few seconds each, side by side: each is a pytest process of its own, and
    nothing is timed until both are done."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        if candidate.snapshot is not None:
            mine = pool.submit(equivalence.check_snapshot, candidate.snapshot)
        else:
            mine = pool.submit(equivalence.check_named, candidate.spec)
        theirs = pool.submit(equivalence.check_snapshot, reference)
        working, at_reference = mine.result(), theirs.result()
    changed = None
    if candidate.snapshot is not None:
        now, before = (s.source_sha256(s.collector) for s in (candidate.snapshot, reference))
        changed = None if now is None or before is None else now != before
    return Answers(working, at_reference, allowed, changed, reference.commit[:12])


def _why(method: str, answers: Answers) -> str:
    return f"{method} answers otherwise than the frozen original's: {answers.working.why[method]}"


def differing(names: list[str], answers: Answers) -> dict[str, str]:
    """The benchmarks whose method answers otherwise than the original's, each with why, where that fails the gate:
    their answers decide them, so they are timed once, for information, never to full power."""
    if not answers.fail:
        return {}
    methods = {name: find_case(name)[0].store_method for name in names}
    return {
        name: f"{_why(method, answers)}; its ratio is no speed-up"
        for name, method in methods.items()
        if method in answers.differs_in
    }


def apply(outcomes: list[Outcome], answers: Answers) -> list[Outcome]:
    """Each benchmark of a method whose answers differ reads ANSWERS DIFFER (or keeps its speed verdict, allowed)."""
    for outcome in outcomes:
        method = find_case(outcome.name)[0].store_method
        if method not in answers.differs_in:
            continue
        if answers.allowed:
            why = f"{_why(method, answers)} (allowed)"
            outcome.note = f"{outcome.note}; {why}" if outcome.note else why
        else:
            outcome.verdict = Verdict.ANSWERS_DIFFER
    return outcomes
