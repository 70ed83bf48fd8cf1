"""`python -m bench summary [RESULTS_DIR]`: the main job's table again, from saved files (bench.report.summary)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode
from bench.model.options import add_publish_options
from bench.model.results import LATEST
from bench.report.summary import show

HELP: Final = "The main job's table again, from the result files saved in a folder (never benchmarks)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", nargs="?", type=Path, default=LATEST, help="default: results/latest")
    parser.add_argument("--candidates", help="comma-separated labels to show, in this order (default: all)")
    add_publish_options(parser.add_argument)


def run(args: argparse.Namespace) -> ExitCode:
    return show(args.results_dir, args.candidates.split(",") if args.candidates else None, (args.markdown, args.json))
