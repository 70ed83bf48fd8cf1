"""`python -m bench soak`: the reliability tests long and short, the fsync cost, then results/RELIABILITY.md
(bench.jobs.soak)."""

from __future__ import annotations

import argparse
from typing import Final

from bench.errors import ExitCode
from bench.jobs.soak import soak
from bench.model.options import add_fixture_options, fixtures_from

HELP: Final = (
    "The reliability tests long and short (-m 'slow or not slow'), the cost of fsync=True beside the plain "
    "save (interleaved pyperf runs), then results/RELIABILITY.md. Exit 1 when a test failed or lost data."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=6, help="fsync: interleaved rounds, 2 worker processes each")
    parser.add_argument("--values", type=int, default=3, help="fsync: values per worker process")
    parser.add_argument("--no-tests", action="store_true", help="the fsync benchmark and the report only")
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    add_fixture_options(parser.add_argument)


def run(args: argparse.Namespace) -> ExitCode:
    return soak(
        rounds=args.rounds,
        values=args.values,
        tests=not args.no_tests,
        pytest_args=args.pytest_args,
        fixtures=fixtures_from(args),
    )
