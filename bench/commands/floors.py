"""`python -m bench floors`: the least work each answer needs, timed beside the store (bench.runners.pyperf_floors)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode
from bench.model import results
from bench.model.options import add_fixture_options, fixtures_from
from bench.runners.pyperf_floors import measure_floors

HELP: Final = (
    "Times the least work each operation's answer needs, beside the optimized store in the same run, and "
    "rewrites results/floors.json (the report's distance-to-floor table). A timing job: a quiet machine."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--floor", action="append", dest="floors", metavar="NAME", help="only this floor (repeatable; default: all)"
    )
    add_fixture_options(parser.add_argument)
    parser.add_argument("--output", type=Path, default=results.FLOORS.path, help="default: results/floors.json")
    parser.add_argument("--fast", action="store_true", help="pyperf's --fast: fewer processes and values")


def run(args: argparse.Namespace) -> ExitCode:
    output = args.output.resolve()  # the run's worker starts from the code's root
    return measure_floors(output=output, fixtures=fixtures_from(args), fast=args.fast, floors=args.floors)
