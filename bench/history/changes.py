"""What a history's points say: the steps in each benchmark's speed, and the commits that changed the answers.

A step at a commit is the rule's (bench.rule) verdict on its processes' log(this commit / the commit before it),
both timed in each of them: two-sided (slower or faster), past the minimum effect, at a level shared out over every
position and benchmark of the history, so a history of unchanged code names a step with at most the nominal rate
(results/GATE.md measures it). The first measured commit after the base and the newest are positions like any other.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.gate.config import GateConfig, load_config
from bench.history.points import Point, differs_in
from bench.model import git, results
from bench.model.answer_record import AnswerRecord
from bench.model.stats import RatioInterval
from bench.model.verdict import Verdict
from bench.rule import Band, Decision, Design, decide, shown
from bench.runners import equivalence

# --- the order of commits ---------------------------------------------------------------------------------


def _commit_order(repo: Path | None) -> dict[str, int]:
    if repo is None:
        return {}
    try:
        listed = git.output(repo, "rev-list", "--topo-order", "--reverse", "--all")
    except UsageError:
        return {}
    return {sha: index for index, sha in enumerate(listed.split())}


def _ranks(points: Sequence[Point], repo: Path | None) -> dict[str, int]:
    """Commit order: the points' own generation numbers, else git's order."""
    if all(p.generation is not None for p in points):
        return {p.commit: p.generation for p in points if p.generation is not None}
    return _commit_order(repo)


def one_per_commit(points: Sequence[Point], repo: Path | None) -> list[Point]:
    """One point per commit (the first found), in commit order."""
    order = _ranks(points, repo)
    first: dict[str, Point] = {}
    for point in points:
        first.setdefault(point.commit, point)
    return sorted(first.values(), key=lambda p: (order.get(p.commit, math.inf), p.date))


# --- steps ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One benchmark's measured points in commit order: each commit's ratio to the baseline, from every machine."""

    benchmark: str
    commits: list[dict[str, Any]]  # the points' commit, date and subject
    estimates: list[float]
    lows: list[float]
    highs: list[float]
    machines: list[list[str]]


def series_of(points: Sequence[Point], benchmark: str, repo: Path | None = results.REPO_ROOT) -> Series:
    """The ratios to the baseline per commit: the median over the machines that measured it."""
    order = _ranks(points, repo)
    by_commit: dict[str, list[Point]] = {}
    for point in points:
        if point.serves and benchmark in point.benchmarks:
            by_commit.setdefault(point.commit, []).append(point)
    ranked = sorted(by_commit, key=lambda sha: (order.get(sha, math.inf), by_commit[sha][0].date))
    series = Series(benchmark, [], [], [], [], [])
    for sha in ranked:
        found = by_commit[sha]
        intervals = [p.benchmarks[benchmark] for p in found]
        series.commits.append({"commit": found[0].commit, "date": found[0].date, "subject": found[0].subject})
        series.estimates.append(_median(i.estimate for i in intervals))
        series.lows.append(_median(i.low for i in intervals))
        series.highs.append(_median(i.high for i in intervals))
        series.machines.append(sorted({p.machine_id for p in found}))
    return series


def _median(values: Any) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class Position:
    """One benchmark's step at one commit: its point, and the processes that timed it beside the commit before it."""

    point: Point
    benchmark: str
    values: list[float]  # log(this commit / the previous one), per process, in the order measured
    design: Design

    @property
    def key(self) -> tuple[str, str, str]:
        return self.point.commit, self.point.machine_id, self.benchmark


def step_design(settings: dict[str, Any], config: GateConfig) -> Design:
    """The looks a point was measured with, two-sided: a step either way is a change."""
    return Design(tuple(settings["looks"]), config.false_alarm_rate, two_sided=True)


def positions(points: Sequence[Point], names: Sequence[str], config: GateConfig) -> list[Position]:
    """Every (commit, benchmark) whose point timed it beside the commit before it on the walk: what the rule tests.

    One point per commit (its first machine's), whose previous commit is the one before it among the measured."""
    found = []
    for name in names:
        measured = [p for p in points if p.serves and name in p.timings]
        for point in measured:
            timings = point.timings[name]
            if point.previous is None or not timings.has("reference"):
                continue
            if len(timings) < point.settings["looks"][0]:
                continue  # interrupted before its first look: nothing to decide on yet
            found.append(Position(point, name, timings.log_ratios("reference"), step_design(point.settings, config)))
    return found


@dataclass(frozen=True)
class ChangePoint:
    """A step the rule names: at this commit, against the commit before it, the same processes timing both."""

    benchmark: str
    commit: str
    date: str
    subject: str
    previous_commit: str
    decision: Decision  # verdict REGRESSED (slower from here) or IMPROVED (faster), at the rule's level
    interval: RatioInterval  # the step with its 95% interval, on every process of the commit
    level_before: float | None  # the previous commit's ratio to the baseline
    level_after: float
    answers_differ: bool  # the commit's store answers otherwise than the original in the benchmark's method

    @property
    def step(self) -> RatioInterval:
        return self.interval

    @property
    def slower(self) -> bool:
        return self.decision.verdict is Verdict.REGRESSED

    def text(self) -> str:
        """The step with its interval, e.g. "+209.5% [+201.2%, +217.9%]"."""
        step = self.step
        shown = f"{(step.estimate - 1) * 100:+.1f}% [{(step.low - 1) * 100:+.1f}%, {(step.high - 1) * 100:+.1f}%]"
        return shown + ("; its answers differ from the original's there: no speed-up" if self.answers_differ else "")

    def to_json(self) -> dict[str, Any]:
        step = self.step
        return {
            "benchmark": self.benchmark,
            "commit": self.commit,
            "date": self.date,
            "subject": self.subject,
            "previous_commit": self.previous_commit,
            "verdict": self.decision.verdict.value,
            "step": {"estimate": step.estimate, "low": step.low, "high": step.high, "confidence": step.confidence},
            "decided_on": {
                "low": self.decision.interval.low,
                "high": self.decision.interval.high,
                "confidence": self.decision.interval.confidence,
            },
            "processes": self.decision.processes,
            "look": self.decision.look,
            "level_before": self.level_before,
            "level_after": self.level_after,
            "answers_differ": self.answers_differ,
        }


def decided_steps(found: Sequence[Position], config: GateConfig) -> dict[tuple[str, str, str], Decision]:
    """The rule at every position, its level shared out over all of them."""
    tests = len(found)
    return {
        position.key: decide(
            position.values, Band(1.0, config.minimum_effect(position.benchmark)), position.design, tests
        )
        for position in found
    }


def change_points(points: Sequence[Point], names: Sequence[str], config: GateConfig | None = None) -> list[ChangePoint]:
    """Every step the rule names in the saved points, benchmark by benchmark, in commit order."""
    config = config or load_config()
    found = positions(points, names, config)
    decisions = decided_steps(found, config)
    by_commit = {p.commit: p for p in points if p.serves}
    steps, named = [], set()
    for position in found:
        decision = decisions[position.key]
        if decision.verdict not in (Verdict.REGRESSED, Verdict.IMPROVED) or position.key[::2] in named:
            continue
        named.add(position.key[::2])  # a step two machines both name is one change point
        point, name = position.point, position.benchmark
        assert point.previous is not None  # positions() holds only points timed beside a previous commit
        before = by_commit.get(point.previous)
        steps.append(
            ChangePoint(
                name,
                point.commit,
                point.date,
                point.subject,
                point.previous,
                decision,
                shown(position.values),
                before.benchmarks[name].estimate if before and name in before.benchmarks else None,
                point.benchmarks[name].estimate,
                differs_in(point, name),
            )
        )
    order = {name: index for index, name in enumerate(names)}
    generation = {p.commit: p.generation or 0 for p in points}
    return sorted(steps, key=lambda cp: (order[cp.benchmark], generation.get(cp.commit, 0)))


# --- when the answers changed ---------------------------------------------------------------------


def collector_changed(point: Point, previous: Point | None) -> bool | None:
    """Whether this commit changed the collector's source since the previous point; None where either is unknown."""
    now, before = ((p.sources or {}).get("collector_sha256") if p else None for p in (point, previous))
    return None if now is None or before is None else now != before


def answers_text(point: Point, previous: Point | None = None) -> str:
    """What a point says of its commit's answers: the store's verdict and its collector's (changed since `previous`,
    or not), or why they were not checked."""
    if point.equivalence is None:
        return "not checked" if point.serves else "cannot serve"
    return equivalence.answers_text(point.equivalence, collector_changed(point, previous))


def _state(record: AnswerRecord) -> tuple[Any, ...]:
    return record.verdict, record.differs_in, record.collector


@dataclass(frozen=True)
class AnswerChange:
    """A commit whose answers (the store's, or its collector's output) differ from the previous checked commit's."""

    commit: str
    date: str
    subject: str
    previous_commit: str
    before: str
    after: str
    first_counterexample: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))


def answer_changes(points: Sequence[Point], repo: Path | None = results.REPO_ROOT) -> list[AnswerChange]:
    """The commits whose answers differ from the previous checked commit's, with both states.

    A commit whose answers were not checked (it could not serve, or --no-answers) is passed over, as
    `git bisect skip` passes over a commit that cannot be tested.
    """
    checked = [(p, p.equivalence) for p in one_per_commit(points, repo) if p.equivalence is not None]
    changes = []
    for index, ((before, was), (after, now)) in enumerate(itertools.pairwise(checked)):
        if _state(was) != _state(now):
            changes.append(
                AnswerChange(
                    after.commit,
                    after.date,
                    after.subject,
                    before.commit,
                    answers_text(before, checked[index - 1][0] if index else None),
                    answers_text(after, before),
                    now.first_counterexample,
                )
            )
    return changes


def history_table(points: Sequence[Point], names: Sequence[str], repo: Path | None) -> list[str]:
    """One line per commit, oldest first: its answers, and each benchmark's ratio to the baseline with its interval."""
    rows: list[str] = []
    previous = None
    for point in one_per_commit(points, repo):
        if point.skipped is not None:
            speed = f"skipped: {point.skipped}"
        else:
            found = point.benchmarks
            speed = "; ".join(
                f"{name} {found[name].estimate:.3f} [{found[name].low:.3f}, {found[name].high:.3f}]"
                for name in names
                if name in found
            )
        answers = answers_text(point, previous)
        rows.append(f"  {point.commit[:12]} {point.subject[:40]:<40}  answers: {answers}; {speed}")
        previous = point
    return rows
