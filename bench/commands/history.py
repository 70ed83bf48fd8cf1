"""`python -m bench history`: a point per commit, its speed and answers, and the change points in them.

python -m bench history main~30..main          # each first-parent commit that changed storage/, oldest first
python -m bench history --last 10 --shard 1/3  # this runner's third of the last 10
python -m bench history --points-only --json history.json   # change points of the points already saved
metrics-store-bench history --last 20 --store src/astraguard/hil/metrics/storage.py   # in the application
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode
from bench.history.points import DEFAULT_MAX_RERUNS, DEFAULT_PROCESSES, DEFAULT_ROUNDS, HISTORY_DIR
from bench.history.walk import history
from bench.model import results
from bench.model.options import (
    add_only_option,
    add_publish_options,
    add_reruns_option,
    add_store_options,
    add_timing_options,
    add_walk_option,
    collector_location,
    store_location,
)
from bench.report import history_view

HELP: Final = (
    "Measure each first-parent commit's store beside the frozen baseline and beside the commit before it, in the same "
    "processes, and check its answers (the store's, and its collector's) against the frozen original's (one point "
    "per commit and machine under results/history/); then name each step the gate's rule finds between a commit and "
    "the one before it, the newest included, and the commits that changed the answers. Commits whose store cannot "
    "serve are recorded, skipped with the reason, not errors."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("rev_range", nargs="?", metavar="REV_RANGE", help="git range, e.g. main~30..main")
    which.add_argument("--last", type=int, metavar="N", help="the last N commits (of those changing --paths)")
    which.add_argument("--points-only", action="store_true", help="measure nothing: change points of saved points")
    add_only_option(parser.add_argument)
    add_publish_options(parser.add_argument)
    parser.add_argument("--shard", metavar="K/N", help="measure only the K-th of N interleaved shares of the commits")
    parser.add_argument(
        "--paths",
        nargs="*",
        default=None,
        help="only commits that changed these paths (default: the store's folder, and the collector's; "
        "none given: every commit)",
    )
    parser.add_argument(
        "--output", type=Path, default=HISTORY_DIR, help=f"where points go (default: {results.shown(HISTORY_DIR)})"
    )
    parser.add_argument(
        "--no-answers",
        dest="answers",
        action="store_false",
        help="time each commit only, without the quick equivalence pass (a few seconds a commit) that says whether "
        "its answers are the frozen original's",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="each commit's ratios with their intervals and its answers in full"
    )
    add_store_options(parser.add_argument)
    add_timing_options(parser.add_argument, DEFAULT_PROCESSES, DEFAULT_ROUNDS)
    add_reruns_option(parser.add_argument, DEFAULT_MAX_RERUNS)
    add_walk_option(parser.add_argument)


def run(args: argparse.Namespace) -> ExitCode:
    result = history(
        store=store_location(args),
        collector=collector_location(args),
        repo_given=args.repo,
        rev_range=args.rev_range,
        last=args.last,
        points_only=args.points_only,
        only=args.only,
        shard_spec=args.shard,
        paths_given=args.paths,
        output=args.output,
        answers=args.answers,
        processes=args.processes,
        rounds=args.rounds,
        max_reruns=args.max_reruns,
        seed=args.seed,
        first_parent=args.first_parent,
    )
    return history_view.show(result, (args.markdown, args.json), verbose=args.verbose)
