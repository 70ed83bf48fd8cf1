"""`python -m bench gate`: the CI perf gate, against a git revision or the saved ratios (bench.gate.check)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, UsageError
from bench.gate import check, instructions
from bench.gate import saved as saved_ratios
from bench.gate.saved import REBASELINE_REPEATS, SAVED_RATIOS
from bench.gate.timed import DEFAULT_CANDIDATE, DEFAULT_MAX_RERUNS, DEFAULT_PROCESSES, DEFAULT_ROUNDS, Timing
from bench.model import results
from bench.model.options import (
    add_only_option,
    add_publish_options,
    add_quick_option,
    add_reruns_option,
    add_store_options,
    add_timing_options,
    collector_location,
    store_location,
)
from bench.model.results import require_checkout
from bench.report import gate_view
from bench.stores.candidates import resolve

HELP: Final = (
    "Fail when the working tree's store is slower than the store at --against REV (both timed interleaved in the "
    "same fresh worker processes, by a sequential test that measures further only the undecided benchmarks), "
    "counts more instructions or system calls per call, or answers otherwise than the frozen original (both sides "
    "get the quick equivalence pass first); without --against, when the candidate/baseline ratio regresses past "
    "the one saved in results/gate/saved_ratios.json."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--candidate",
        default=None,
        help=f"registry name or package.module:Class (default: {DEFAULT_CANDIDATE}); not with --store, whose "
        "working tree's file is the candidate",
    )
    reference = parser.add_mutually_exclusive_group()
    reference.add_argument("--against", metavar="REV", help="git revision whose store (--store) to compare with")
    reference.add_argument(
        "--against-saved",
        action="store_true",
        help="--against the commit the saved ratios were measured at (what CI runs)",
    )
    parser.add_argument(
        "--saved",
        type=Path,
        default=None,
        help=f"the saved ratios (default: {results.shown(SAVED_RATIOS)}); with --instructions and no --against, "
        f"the saved counts (default: {results.shown(instructions.SAVED_COUNTS)})",
    )
    add_timing_options(parser.add_argument, DEFAULT_PROCESSES, DEFAULT_ROUNDS)
    add_reruns_option(parser.add_argument, DEFAULT_MAX_RERUNS)
    add_only_option(parser.add_argument)
    add_publish_options(parser.add_argument)
    add_store_options(parser.add_argument)
    parser.add_argument(
        "--rebaseline",
        action="store_true",
        help=f"measure {REBASELINE_REPEATS} times and REWRITE the saved ratios (what nox -s rebaseline runs)",
    )
    parser.add_argument("--repeats", type=int, default=REBASELINE_REPEATS, help="repeats for --rebaseline")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="the counts alone, no timing: instructions (callgrind) and system calls (strace) per call of both sides "
        "with --against, else instructions against results/instructions/saved_counts.json",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="with --against: time the frozen baseline too, for the ratios to it beside each verdict and the saved "
        "ratios' comparison (information only; by default it is not timed, and the gate is faster)",
    )
    parser.add_argument(
        "--no-counts",
        dest="counts",
        action="store_false",
        help="with --against: time only, without counting both sides' instructions and system calls per call "
        "(by default counted after the timing, at the quick sizes or at --only's, and gating: pyproject.toml)",
    )
    add_quick_option(parser.add_argument, "the quick sizes only (the counts are at the quick sizes unless --only)")
    parser.add_argument(
        "--allow-different-answers",
        action="store_true",
        help="with --against: judge on speed alone where the working tree's store answers otherwise than the frozen "
        "original (the difference is still printed); by default such a benchmark reads ANSWERS DIFFER and fails",
    )
    parser.add_argument(
        "--no-answers",
        dest="answers",
        action="store_false",
        help="with --against: time only, without the quick equivalence pass of both stores (a few seconds each) "
        "that says whether their answers are the frozen original's",
    )
    why = parser.add_mutually_exclusive_group()
    why.add_argument(
        "--why",
        action="store_true",
        default=None,
        help="with --against: profile both sides of every benchmark that failed or stayed open, function by function "
        "(by default: of those that failed)",
    )
    why.add_argument("--no-why", dest="why", action="store_false", help="with --against: no profile, even on a failure")
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="every verdict's long form above the table: the rule's limit, what the baseline and the saved ratios "
        "say, each side's answers in full",
    )
    parser.add_argument(
        "--informational",
        action="store_true",
        help="print every verdict but exit 0 on a regression (usage errors still exit 2): what CI does with counts",
    )


def run(args: argparse.Namespace) -> ExitCode:
    status = _run(args)
    if status == ExitCode.FAILED and args.informational:
        print("(--informational: not failing)")
        return ExitCode.OK
    return status


def _run(args: argparse.Namespace) -> ExitCode:
    timing = Timing(args.processes, args.rounds, args.max_reruns, args.seed, args.baseline)  # UsageError: a bad count
    if args.store is not None and args.candidate is not None:
        raise UsageError("--store names the working tree's store to judge, --candidate another store: give one")
    candidate = args.candidate or DEFAULT_CANDIDATE
    resolve(candidate)  # a bad name is a usage error before anything runs
    if args.rebaseline and (args.against or args.against_saved or args.instructions):
        raise UsageError("--rebaseline rewrites the saved ratios: no --against, --against-saved or --instructions")
    if (args.allow_different_answers and not (args.against or args.against_saved)) or (
        args.allow_different_answers and args.instructions
    ):
        raise UsageError("--allow-different-answers concerns the timed gate against a revision (--against REV)")
    if args.instructions and (args.markdown or args.json):
        raise UsageError("--markdown and --json publish the timed gate's verdicts: --instructions prints its counts")
    destinations = (args.markdown, args.json)
    if args.against or args.against_saved:
        result = check.against_revision(
            rev=args.against,
            saved=args.saved or SAVED_RATIOS,
            candidate=candidate,
            store=store_location(args) if args.store is not None else None,
            collector=collector_location(args),
            repo_given=args.repo,
            only=args.only,
            timing=timing,
            counts_only=args.instructions,
            with_counts=args.counts,
            quick=args.quick,
            allow_different_answers=args.allow_different_answers,
            check_answers=args.answers,
            why=args.why,
        )
        return result if isinstance(result, ExitCode) else gate_view.show(result, destinations, verbose=args.verbose)
    if args.store is not None or args.collector is not None:
        raise UsageError(
            "--store and --collector name a store compared with itself at a revision: give --against REV "
            "(the saved ratios are this repository's optimized store's)"
        )
    if args.instructions:
        saved = args.saved or instructions.SAVED_COUNTS
        return check.counts_against_saved(
            candidate=candidate, saved=saved, quick=args.quick, only=args.only, seed=args.seed
        )
    if args.rebaseline:
        require_checkout("gate --rebaseline")
        if args.only:
            raise UsageError("--rebaseline rewrites every saved ratio: it takes no --only")
        return saved_ratios.rebaseline_saved_ratios(
            candidate=candidate, saved=args.saved or SAVED_RATIOS, timing=timing, repeats=args.repeats
        )
    result = saved_ratios.against_saved_ratios(
        candidate=candidate, saved=args.saved or SAVED_RATIOS, only=args.only, timing=timing
    )
    return gate_view.show(result, destinations, verbose=args.verbose)
