"""`python -m bench equivalence [REV]`: the equivalence suite per candidate, or on one revision's store
(bench.runners.equivalence)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, UsageError
from bench.model import results
from bench.model.options import add_candidates_option, add_store_options, collector_location, store_location
from bench.runners.equivalence import DEFAULT_OUTPUT, PROFILES, judge_revision, record_candidates

HELP: Final = "The equivalence suite run once per candidate; verdicts and counterexamples to results/equivalence.json."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_candidates_option(parser.add_argument, "every registered store and the deployed layout")
    parser.add_argument(
        "rev",
        nargs="?",
        metavar="REV",
        help="judge the store (--store) at this git revision instead: its verdict and the operations that differ; "
        "exit 1 if they differ or it cannot serve (nothing is written unless --output is given)",
    )
    add_store_options(parser.add_argument)
    parser.add_argument("--profile", default="ci", choices=PROFILES, help="Hypothesis profile (default: ci)")
    parser.add_argument(
        "--output", type=Path, default=None, help=f"default: {results.shown(DEFAULT_OUTPUT)} (with REV: not written)"
    )


def run(args: argparse.Namespace) -> ExitCode:
    if args.rev is not None:
        if args.candidates is not None:
            raise UsageError("REV judges the store at a revision (--store): it takes no --candidates")
        return judge_revision(
            rev=args.rev,
            store=store_location(args),
            collector=collector_location(args),
            repo_given=args.repo,
            profile=args.profile,
            output=args.output,
        )
    if args.store is not None or args.collector is not None or args.repo is not None:
        raise UsageError("--store, --collector and --repo name a store at a revision: give REV")
    return record_candidates(candidates=args.candidates, profile=args.profile, output=args.output or DEFAULT_OUTPUT)
