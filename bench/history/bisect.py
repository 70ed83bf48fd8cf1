"""`python -m bench find GOOD BAD --only NAME`: bisect a slowdown to its first commit, timing each step's store
and GOOD's in the same processes (the gate's --against measurement)."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, RevisionError, StoreUnusable, UsageError
from bench.gate import check as gate
from bench.history.points import Commit, add_timing_options, commits_in, names_of
from bench.model import git, snapshot
from bench.model.options import add_store_options, collector_location, store_location
from bench.model.snapshot import Location, Snapshot
from bench.model.verdict import Verdict

HELP: Final = (
    "Bisect the commits between GOOD and BAD for the first whose store is slower than GOOD's on the --only "
    "benchmarks: each step times the midpoint's store and GOOD's in the same processes, and is slow where its "
    "ratio to GOOD is nearer BAD's (the geometric midpoint of 1 and BAD's ratio). Exit 0: found (last "
    "line: first slow commit: <sha> <subject>); 1: BAD is not slower than GOOD. A commit whose store cannot serve "
    "(it does not import, lacks a method, is async, changed a signature) is skipped, as `git bisect skip` does."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("good", metavar="GOOD")
    parser.add_argument("bad", metavar="BAD")
    parser.add_argument("--only", action="append", required=True, metavar="NAME", help='benchmark "op[size]"')
    add_store_options(parser.add_argument)
    add_timing_options(parser)


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


def _judge_step(
    commit: Commit,
    good: Snapshot,
    names: list[str],
    args: argparse.Namespace,
    repo: Path,
    store: Location,
    slow_above: dict[str, float] | None = None,
) -> Step:
    """slow_above None (BAD itself): slow by the gate's rule; else slow where the ratio is nearer BAD's level."""
    try:
        loaded = snapshot.at(repo, commit.sha, store, collector_location(args))
        snapshot.load(loaded, probed=True)
        arms = gate.Arms(gate.Arm.of(loaded), reference=gate.Arm.of(good))
        measure = gate.measure_interleaved(arms, args.seed, args.rounds, gate.DEFAULT_SAMPLE_SECONDS)
        timings = measure(names, args.processes)
    except (RevisionError, StoreUnusable) as e:  # the commit cannot serve, or fails an answer check: skipped
        return Step(commit, None, f"skipped: {e}")
    config = gate.load_config()
    parts, slow, estimates = [], False, {}
    for name in names:
        band = gate.Band(1.0, config.minimum_effect(name))
        interval = gate.against_ratio(timings[name], config.confidence(len(names)))
        verdict = gate.decide(interval, band)
        if verdict is Verdict.INCONCLUSIVE:  # pool once more before deciding by the estimate
            timings[name] += measure([name], args.processes)[name]
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


def run(args: argparse.Namespace) -> ExitCode:
    if args.processes < 2 or args.rounds < 1:
        raise UsageError("need --processes >= 2 and --rounds >= 1")
    repo = git.repository(args.repo)
    names = names_of(args.only)
    store = store_location(args)
    good = snapshot.at(repo, args.good, store, collector_location(args))
    gate.serving_reference(good)  # GOOD must serve: every step is timed against it
    bad = git.commit_of(repo, args.bad)
    if bad is None:
        raise RevisionError(f"revision {args.bad!r} does not name a commit in {repo}")
    candidates = commits_in(repo, f"{good.commit}..{bad}", None, ())
    ancestry = set(git.output(repo, "rev-list", "--ancestry-path", f"{good.commit}..{bad}").split())
    candidates = [c for c in candidates if c.sha in ancestry]
    if not candidates:
        raise UsageError(f"no commits between {args.good} and {args.bad}: is GOOD an ancestor of BAD?")
    print(f"bisecting {len(candidates)} commits after {good.label} up to {bad[:12]} on {', '.join(names)}")
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
        step = _judge_step(candidates[probe], good, names, args, repo, store, slow_above)
        print(
            f"step {step_number}: {candidates[probe].sha[:12]} {candidates[probe].subject[:50]}: {step.text}",
            flush=True,
        )
        if probe == high and not high_checked:
            high_checked = True
            if step.slow is None:
                raise RevisionError(f"{args.bad} cannot be measured, so nothing can be bisected: {step.text}")
            if step.slow is not True:
                print(f"{args.bad} is not measurably slower than {args.good} ({step.text}): nothing to bisect")
                return ExitCode.FAILED
            slow_above = midpoints(step)
            levels = ", ".join(f"{name} above {limit:.3f}" for name, limit in slow_above.items())
            print(f"a step is slow where it is nearer {args.bad}'s level than {args.good}'s: {levels}")
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
