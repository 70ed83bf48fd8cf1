"""Bisecting a slowdown to its first commit (`python -m bench find GOOD BAD --only NAME`). Each step times its
commit's store and GOOD's interleaved in the same processes, and the gate's rule (bench.rule, at the gate's
settings) decides: a step is slow where some --only benchmark regressed against GOOD. A commit whose store cannot
serve is skipped, as `git bisect skip` does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import ExitCode, RevisionError, StoreUnusable, UsageError
from bench.gate.config import load_config
from bench.gate.outcome import Outcome
from bench.gate.timed import Timing, judge_timed
from bench.gate.why import diff_against
from bench.history.points import Commit, commits_in, names_of
from bench.model import git
from bench.model.location import Location
from bench.model.verdict import Verdict
from bench.rule import Band
from bench.runners.interleaved import Arm, Arms, Engine
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot


@dataclass(frozen=True)
class Step:
    """One bisection step: slow (True), not slow (False) or not measurable (None), and each benchmark's outcome."""

    commit: Commit
    slow: bool | None
    text: str
    outcomes: dict[str, Outcome] = field(default_factory=dict)


@dataclass(frozen=True)
class Found:
    """The first slow commit's index, and the skipped commits just before it (the first slow one may be one)."""

    first: int
    unresolved: tuple[int, ...]


def first_slow(count: int, slow: Callable[[int], bool | None]) -> Found | None:
    """Bisects indices 0..count-1 (GOOD lies before 0) for the first slow one, asking `slow` for each probe; the last
    (BAD) first. None: BAD is not slow. A probe `slow` cannot judge (None) is skipped; RevisionError when BAD cannot
    be judged."""
    low, high = -1, count - 1
    verdict = slow(high)
    if verdict is None:
        raise RevisionError("the last commit cannot be measured, so nothing can be bisected")
    if not verdict:
        return None
    skipped: set[int] = set()
    while untried := [i for i in range(low + 1, high) if i not in skipped]:
        middle = (low + high) // 2
        probe = min(untried, key=lambda i: (abs(i - middle), i))
        verdict = slow(probe)
        if verdict is None:
            skipped.add(probe)
        elif verdict:
            high = probe
        else:
            low = probe
    return Found(high, tuple(i for i in range(low + 1, high) if i in skipped))


@dataclass(frozen=True)
class Bisection:
    """What every step of one bisection shares: where the stores are, what is timed, and how."""

    repo: Path
    store: Location
    collector: Location | None
    names: list[str]
    timing: Timing

    def judge(self, commit: Commit, good: Snapshot) -> Step:
        """The commit's store against GOOD's, by the gate's rule."""
        try:
            loaded = revision.at(self.repo, commit.sha, self.store, self.collector)
            loading.load(loaded, probed=True)
            engine = Engine(
                Arms(Arm.of(loaded), reference=Arm.of(good), baseline=None), self.timing.seed, self.timing.rounds
            )
            config = load_config()
            bands = {name: Band(1.0, config.minimum_effect(name)) for name in self.names}
            decided = judge_timed(engine, bands, self.timing.design(config), "reference")
        except (RevisionError, StoreUnusable) as e:  # the commit cannot serve, or fails an answer check: skipped
            return Step(commit, None, f"skipped: {e}")
        outcomes = {name: Outcome.of(name, decision, timings) for name, (decision, timings) in decided.items()}
        slow = any(o.verdict is Verdict.REGRESSED for o in outcomes.values())
        parts = [
            f"{o.name} {o.interval.estimate:.3f} [{o.interval.low:.3f}, {o.interval.high:.3f}] of GOOD's, "
            f"{o.verdict.value} ({o.processes} processes)"
            for o in outcomes.values()
            if o.interval is not None
        ]
        return Step(commit, slow, ("slow: " if slow else "not slow: ") + "; ".join(parts), outcomes)

    def why(self, first: Commit, parent: Snapshot, step: Step) -> list[str]:
        """The first slow commit against its parent, function by function, for each benchmark that regressed."""
        loaded = revision.at(self.repo, first.sha, self.store, self.collector)
        lines = [f"against its parent {parent.label}:"]
        for outcome in step.outcomes.values():
            if outcome.verdict is not Verdict.REGRESSED or outcome.timings is None:
                continue
            diff = diff_against(outcome, loaded, parent, self.timing.seed, None)
            lines += diff.lines(parent.commit[:12], side=first.sha[:12])
        return lines


def find(
    *,
    good_rev: str,
    bad_rev: str,
    only: Sequence[str],
    store: Location,
    collector: Location | None,
    repo_given: Path | None,
    timing: Timing,
    first_parent: bool = True,
) -> ExitCode:
    """Exit 0 with `first slow commit: <sha> <subject>`, then its diff against its parent; 1 when BAD is not slower.

    first_parent: the commits of BAD's first-parent line after GOOD (`git bisect --first-parent`), so a slowdown
    brought in by a merge is found at the merge; else every commit GOOD..BAD on a path between them.
    """
    repo = git.repository(repo_given)
    how = Bisection(repo, store, collector, names_of(only), timing)
    good = revision.at(repo, good_rev, store, collector)
    try:  # GOOD must serve: every step is timed against it
        loading.load(good, probed=True)
    except StoreUnusable as e:
        raise RevisionError(e.reason) from e
    bad = git.commit_of(repo, bad_rev)
    if bad is None:
        raise RevisionError(f"revision {bad_rev!r} does not name a commit in {repo}")
    candidates = commits_in(repo, f"{good.commit}..{bad}", None, (), first_parent=first_parent)
    ancestry = set(git.output(repo, "rev-list", "--ancestry-path", f"{good.commit}..{bad}").split())
    candidates = [c for c in candidates if c.sha in ancestry]
    if not candidates:
        raise UsageError(f"no commits between {good_rev} and {bad_rev}: is GOOD an ancestor of BAD?")
    walk = "first-parent commits" if first_parent else "commits"
    print(f"bisecting {len(candidates)} {walk} after {good.label} up to {bad[:12]} on {', '.join(how.names)}")
    print("a step is slow where the gate's rule finds a regression against GOOD in the same processes")
    steps: list[Step] = []

    def slow(index: int) -> bool | None:
        step = how.judge(candidates[index], good)
        steps.append(step)
        print(f"step {len(steps)}: {step.commit.sha[:12]} {step.commit.subject[:50]}: {step.text}", flush=True)
        return step.slow

    try:
        found = first_slow(len(candidates), slow)
    except RevisionError as e:
        raise RevisionError(f"{bad_rev} cannot be measured, so nothing can be bisected: {steps[-1].text}") from e
    if found is None:
        print(f"{bad_rev} is not measurably slower than {good_rev} ({steps[-1].text}): nothing to bisect")
        return ExitCode.FAILED
    if found.unresolved:
        print(f"could not measure {len(found.unresolved)} commits before it: the first slow one is one of them or it")
    first = candidates[found.first]
    print(f"first slow commit: {first.sha} {first.subject}")
    judged = next(step for step in steps if step.commit == first)
    for line in how.why(first, _parent(how, candidates, found.first, good), judged):
        print(line)
    return ExitCode.OK


def _parent(how: Bisection, candidates: list[Commit], index: int, good: Snapshot) -> Snapshot:
    """The store of the commit before the first slow one on the walk that serves, else GOOD's."""
    for earlier in reversed(candidates[:index]):
        try:
            loaded = revision.at(how.repo, earlier.sha, how.store, how.collector)
            loading.load(loaded, probed=True)
            return loaded
        except (RevisionError, StoreUnusable):
            continue
    return good
