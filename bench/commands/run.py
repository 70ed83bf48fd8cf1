"""`python -m bench run` (and a bare `python -m bench`): the main job, both suites and one table (bench.jobs.run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode
from bench.jobs.run import main_job
from bench.model.options import (
    add_candidates_option,
    add_fixture_options,
    add_publish_options,
    add_quick_option,
    add_sizes_option,
    add_store_options,
    collector_location,
    fixtures_from,
    store_location,
)
from bench.model.results import LATEST

HELP: Final = "the main job: both suites, candidates interleaved, then one table and the report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_quick_option(parser.add_argument, "pyperf's fast settings and each operation's quick sizes (< 3 min)")
    add_candidates_option(parser.add_argument, "every registered store")
    parser.add_argument(
        "--deployed",
        action="store_true",
        help="also measure the optimized store as the application deploys it: copied unchanged as "
        "astraguard/hil/metrics/storage.py beside latency.py, fed that package's own collector class",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--rebaseline",
        action="store_true",
        help="write the committed runs under results/ (a full run of every registered store and the deployed layout)",
    )
    where.add_argument("--output", type=Path, default=LATEST, help="where results go (default: results/latest)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions (callgrind) and system calls (strace) per call instead of timing "
        "(the instructions command; needs valgrind)",
    )
    add_sizes_option(parser.add_argument)
    add_fixture_options(parser.add_argument)
    add_publish_options(parser.add_argument)
    add_store_options(parser.add_argument)
    parser.epilog = (
        "--store adds the store at PATH[:Class] in --repo's work tree (e.g. the application's "
        "src/astraguard/hil/metrics/storage.py) to the candidates, fed its own latency.py's collector (or --collector)."
    )


def run(args: argparse.Namespace) -> ExitCode:
    return main_job(
        candidates=args.candidates,
        deployed=args.deployed,
        store=store_location(args) if args.store is not None else None,
        collector=collector_location(args),
        repo_given=args.repo,
        quick=args.quick,
        rebaseline=args.rebaseline,
        output=args.output,
        instructions=args.instructions,
        large=args.sizes == "large",
        fixtures=fixtures_from(args),
        destinations=(args.markdown, args.json),
    )
