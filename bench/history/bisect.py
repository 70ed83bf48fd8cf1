"""Bisecting a slowdown to its first commit (`python -m bench find GOOD BAD --only NAME`), timing each step's store
and GOOD's in the same processes (the gate's --against measurement). A commit whose store cannot serve is
skipped, as `git bisect skip` does."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import ExitCode, RevisionError, StoreUnusable, UsageError
from bench.gate import check as gate
from bench.history.points import Commit, commits_in, names_of
from bench.model import git
from bench.model.location import Location
from bench.model.verdict import Verdict
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot


@dataclass(frozen=True)
class Bisection:
    """What every step of one bisection shares: where the stores are, what is timed, and how."""

    repo: Path
    store: Location
    collector: Location | None
    names: list[str]
    processes: int
    rounds: int
    seed: int


@dataclass(frozen=True)
class Step:
    commit: Commit
    slow: bool | None  # None: could not be measured (skipped, as `git bisect skip`)
    text: str
    estimates: dict[str, float] = field(default_factory=dict)  # each benchmark's ratio to GOOD


def midpoints(bad: Step) -> dict[str, float]:
    """Between GOOD's level (1) and BAD's, on a log scale: a step is slow where it is nearer BAD's.

    Deciding by the gate's 5% limit alone, a comment-only commit measured 5% slow by noise once sent the
    bisection the wrong way; BAD's own level (here 2x) is the scale the slowdown is found on.
    """
    return {name: math.sqrt(estimate) for name, estimate in bad.estimates.items() if estimate > 1}


def _judge_step(commit: Commit, good: Snapshot, how: Bisection, slow_above: dict[str, float] | None = None) -> Step:
    """slow_above None (BAD itself): slow by the gate's rule; else slow where the ratio is nearer BAD's level."""
    names = how.names
    try:
        loaded = revision.at(how.repo, commit.sha, how.store, how.collector)
        loading.load(loaded, probed=True)
        arms = gate.Arms(gate.Arm.of(loaded), reference=gate.Arm.of(good))
        measure = gate.measure_interleaved(arms, how.seed, how.rounds, gate.DEFAULT_SAMPLE_SECONDS)
        timings = measure(names, how.processes)
    except (RevisionError, StoreUnusable) as e:  # the commit cannot serve, or fails an answer check: skipped
        return Step(commit, None, f"skipped: {e}")
    config = gate.load_config()
    parts, slow, estimates = [], False, {}
    for name in names:
        band = gate.Band(1.0, config.minimum_effect(name))
        interval = gate.against_ratio(timings[name], config.confidence(len(names)))
        verdict = gate.decide(interval, band)
        if verdict is Verdict.INCONCLUSIVE:  # pool once more before deciding by the estimate
            timings[name] += measure([name], how.processes)[name]
            interval = gate.against_ratio(timings[name], config.confidence(len(names)))
            verdict = gate.decide(interval, band)
        if slow_above is None:
            is_slow = verdict is Verdict.REGRESSED or (
                verdict is Verdict.INCONCLUSIVE and interval.estimate > band.upper
            )
        else:
            is_slow = name in slow_above and interval.estimate > slow_above[name]
        slow = slow or is_slow
        estimates[name] = interval.estimate
        parts.append(f"{name} {interval.estimate:.3f} [{interval.low:.3f}, {interval.high:.3f}] of GOOD's")
    return Step(commit, slow, ("slow: " if slow else "not slow: ") + "; ".join(parts), estimates)


def find(
    *,
    good_rev: str,
    bad_rev: str,
    only: Sequence[str],
    store: Location,
    collector: Location | None,
    repo_given: Path | None,
    processes: int,
    rounds: int,
    seed: int,
    first_parent: bool = True,
) -> ExitCode:
    """Exit 0 with `first slow commit: <sha> <subject>` last; 1 when BAD is not slower than GOOD.

    first_parent: the commits of BAD's first-parent line after GOOD (`git bisect --first-parent`), so a slowdown
    brought in by a merge is found at the merge; else every commit GOOD..BAD on a path between them.
    """
    if processes < 2 or rounds < 1:
        raise UsageError("need --processes >= 2 and --rounds >= 1")
    repo = git.repository(repo_given)
    how = Bisection(repo, store, collector, names_of(only), processes, rounds, seed)
    names = how.names
    good = revision.at(repo, good_rev, store, collector)
    gate.serving_reference(good)  # GOOD must serve: every step is timed against it
    bad = git.commit_of(repo, bad_rev)
    if bad is None:
        raise RevisionError(f"revision {bad_rev!r} does not name a commit in {repo}")
    candidates = commits_in(repo, f"{good.commit}..{bad}", None, (), first_parent=first_parent)
    ancestry = set(git.output(repo, "rev-list", "--ancestry-path", f"{good.commit}..{bad}").split())
    candidates = [c for c in candidates if c.sha in ancestry]
    if not candidates:
        raise UsageError(f"no commits between {good_rev} and {bad_rev}: is GOOD an ancestor of BAD?")
    walk = "first-parent commits" if first_parent else "commits"
    print(f"bisecting {len(candidates)} {walk} after {good.label} up to {bad[:12]} on {', '.join(names)}")
    low, high = -1, len(candidates) - 1  # candidates[low] (GOOD) is fast; candidates[high] is assumed slow
    skipped: set[int] = set()
    high_checked = False
    slow_above: dict[str, float] | None = None
    step_number = 0
    while True:
        untried = [i for i in range(low + 1, high) if i not in skipped]
        if not high_checked:
            probe = high  # first make sure BAD is slower at all
        elif not untried:
            break
        else:
            middle = (low + high) // 2
            probe = min(untried, key=lambda i: (abs(i - middle), i))
        step_number += 1
        step = _judge_step(candidates[probe], good, how, slow_above)
        print(
            f"step {step_number}: {candidates[probe].sha[:12]} {candidates[probe].subject[:50]}: {step.text}",
            flush=True,
        )
        if probe == high and not high_checked:
            high_checked = True
            if step.slow is None:
                raise RevisionError(f"{bad_rev} cannot be measured, so nothing can be bisected: {step.text}")
            if step.slow is not True:
                print(f"{bad_rev} is not measurably slower than {good_rev} ({step.text}): nothing to bisect")
                return ExitCode.FAILED
            slow_above = midpoints(step)
            levels = ", ".join(f"{name} above {limit:.3f}" for name, limit in slow_above.items())
            print(f"a step is slow where it is nearer {bad_rev}'s level than {good_rev}'s: {levels}")
            continue
        if step.slow is None:
            skipped.add(probe)
        elif step.slow:
            high = probe
        else:
            low = probe
    unresolved = [candidates[i] for i in range(low + 1, high) if i in skipped]
    first = candidates[high]
    if unresolved:
        print(f"could not measure {len(unresolved)} commits before it: the first slow one is one of them or it")
    print(f"first slow commit: {first.sha} {first.subject}")
    return ExitCode.OK
