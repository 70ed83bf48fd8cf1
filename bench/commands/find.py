"""`python -m bench find GOOD BAD --only NAME`: bisect GOOD..BAD for the first commit that slowed the benchmarks."""

from __future__ import annotations

import argparse
from typing import Final

from bench.errors import ExitCode
from bench.gate.timed import DEFAULT_MAX_RERUNS, DEFAULT_PROCESSES, DEFAULT_ROUNDS, Timing
from bench.history.bisect import find
from bench.model.options import (
    add_reruns_option,
    add_store_options,
    add_timing_options,
    add_walk_option,
    collector_location,
    store_location,
)

HELP: Final = (
    "Bisect the first-parent commits between GOOD and BAD (a merge is one step; --all-parents walks side branches) "
    "for the first whose store is slower than GOOD's on the --only benchmarks: each step times the midpoint's store "
    "and GOOD's in the same processes, and the gate's rule, at the gate's settings, decides whether it regressed. "
    "Exit 0: found (last line: first slow commit: <sha> <subject>); 1: BAD is not slower "
    "than GOOD. A commit whose store cannot serve (it does not import, lacks a method, is async, changed a "
    "signature) is skipped, as `git bisect skip` does."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("good", metavar="GOOD")
    parser.add_argument("bad", metavar="BAD")
    parser.add_argument("--only", action="append", required=True, metavar="NAME", help='benchmark "op[size]"')
    add_store_options(parser.add_argument)
    add_timing_options(parser.add_argument, DEFAULT_PROCESSES, DEFAULT_ROUNDS)
    add_reruns_option(parser.add_argument, DEFAULT_MAX_RERUNS)
    add_walk_option(parser.add_argument)


def run(args: argparse.Namespace) -> ExitCode:
    return find(
        good_rev=args.good,
        bad_rev=args.bad,
        only=args.only,
        store=store_location(args),
        collector=collector_location(args),
        repo_given=args.repo,
        timing=Timing(args.processes, args.rounds, args.max_reruns, args.seed),
        first_parent=args.first_parent,
    )
