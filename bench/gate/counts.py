"""Deterministic counts as gate verdicts: instructions per call (callgrind) and system calls per call, per call
name (strace), of both sides counted in the same run (bench.runners.instructions.measure_against).

A count has no interval: the same code, inputs and environment give the same number, so the tolerance comes
from the spread measured between runs of the same code (A/A, results/GATE.md) and from how large a change is
worth a failure, both in pyproject.toml. System calls are exact run to run, except those the allocator and the
interpreter make (brk, mmap, futex ...), which are listed there and get a tolerance of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.gate.config import GateConfig
from bench.model.verdict import Verdict
from bench.rule import count_verdict
from bench.runners.instructions import Pair


@dataclass(frozen=True)
class SyscallChange:
    """One system call whose count per call differs between the two sides."""

    name: str
    candidate: float
    reference: float
    wandering: bool
    verdict: Verdict

    @property
    def text(self) -> str:
        kind = " (wandering)" if self.wandering else ""
        return f"{self.name}{kind} {self.reference:g} -> {self.candidate:g}"


@dataclass(frozen=True)
class CountVerdict:
    """One benchmark's counts, both sides: the instruction verdict and every system call that changed."""

    name: str
    pair: Pair
    instructions: Verdict
    syscalls: tuple[SyscallChange, ...]
    syscalls_counted: bool

    @property
    def fails(self) -> bool:
        return self.instructions.fails or any(change.verdict.fails for change in self.syscalls)

    @property
    def verdict(self) -> Verdict:
        if self.fails:
            return Verdict.REGRESSED
        if self.instructions is Verdict.IMPROVED:
            return Verdict.IMPROVED
        return Verdict.UNCHANGED

    def line(self, short: str, config: GateConfig) -> str:
        c, r = self.pair.candidate, self.pair.reference
        if not self.syscalls_counted:
            calls = "system calls not counted (strace is not installed)"
        elif not self.syscalls:
            calls = f"system calls the same ({c.syscalls:g} per call)"
        else:
            calls = "system calls per call: " + ", ".join(change.text for change in self.syscalls)
            if failing := [change.name for change in self.syscalls if change.verdict.fails]:
                calls += f"; more {', '.join(failing)}"
        return (
            f"{self.verdict.shown + ' ':<11}{self.name}: instructions/call {c.instructions:,.0f}, at {short} "
            f"{r.instructions:,.0f} ({self.pair.growth:+.3%}, fails above +{config.instruction_tolerance:.1%}); "
            f"{calls}"
        )

    def as_json(self) -> dict[str, Any]:
        c, r = self.pair.candidate, self.pair.reference
        return {
            "benchmark": self.name,
            "verdict": self.verdict.value,
            "fails": self.fails,
            "instructions": {
                "candidate": c.instructions,
                "reference": r.instructions,
                "growth": self.pair.growth,
                "verdict": self.instructions.value,
            },
            "syscalls": None
            if not self.syscalls_counted
            else {
                "candidate": dict(c.by_syscall or {}),
                "reference": dict(r.by_syscall or {}),
                "changed": [
                    {
                        "name": change.name,
                        "candidate": change.candidate,
                        "reference": change.reference,
                        "wandering": change.wandering,
                        "verdict": change.verdict.value,
                    }
                    for change in self.syscalls
                ],
            },
        }


def instruction_verdict(pair: Pair, tolerance: float) -> Verdict:
    """Instructions per call by the counts' rule: a relative growth past the tolerance fails."""
    return count_verdict(pair.candidate.instructions, pair.reference.instructions, relative=tolerance)


def syscall_changes(pair: Pair, config: GateConfig) -> tuple[SyscallChange, ...]:
    """Every call name whose count per call differs: an exact one fails on any increase, a wandering one above its
    tolerance."""
    mine, theirs = pair.candidate.by_syscall or {}, pair.reference.by_syscall or {}
    changes = []
    for name in sorted(set(mine) | set(theirs)):
        candidate, reference = mine.get(name, 0.0), theirs.get(name, 0.0)
        if candidate == reference:
            continue
        wandering = name in config.syscall_wandering
        allowed = config.syscall_wandering_tolerance if wandering else 0.0
        verdict = count_verdict(candidate, reference, absolute=allowed)
        if wandering and verdict is Verdict.IMPROVED:
            verdict = Verdict.UNCHANGED  # a wandering call that falls says nothing either
        changes.append(SyscallChange(name, candidate, reference, wandering, verdict))
    return tuple(changes)


def judge_counts(name: str, pair: Pair, config: GateConfig) -> CountVerdict:
    counted = pair.candidate.by_syscall is not None and pair.reference.by_syscall is not None
    changes = syscall_changes(pair, config) if counted else ()
    return CountVerdict(name, pair, instruction_verdict(pair, config.instruction_tolerance), changes, counted)


def markdown_table(verdicts: list[CountVerdict], short: str, config: GateConfig) -> str:
    """The counts' section of the gate's Markdown summary: no interval column, since a count has none."""
    lines = [
        f"#### Deterministic counts (working tree against {short}; no interval: the same code counts the same)",
        "",
        f"Instructions fail above +{config.instruction_tolerance:.1%}; a system call fails on any increase per call, "
        f"one of {', '.join(config.syscall_wandering)} above +{config.syscall_wandering_tolerance:g}.",
        "",
        "| benchmark | instructions/call | growth | system calls changed | verdict |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for v in sorted(verdicts, key=lambda v: not v.fails):
        changed = ", ".join(change.text for change in v.syscalls) or ("none" if v.syscalls_counted else "not counted")
        lines.append(
            f"| `{v.name}` | {v.pair.candidate.instructions:,.0f} | {v.pair.growth:+.3%} | {changed} | "
            f"{'**' + v.verdict.shown + '**' if v.fails else v.verdict.shown} |"
        )
    return "\n".join(lines)
