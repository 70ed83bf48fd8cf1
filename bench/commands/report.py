"""`python -m bench report [RESULTS_DIR]`: results/REPORT.md and its plots from saved results (bench.report.build)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode
from bench.report.build import COMMITTED, FIGURES_DIR, write_report

HELP: Final = "results/REPORT.md and its plots, from saved result files only (it never runs a benchmark)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", nargs="?", type=Path, default=COMMITTED, help="default: results/")
    parser.add_argument("--output", type=Path, help="the Markdown file (default: RESULTS_DIR/REPORT.md)")


def run(args: argparse.Namespace) -> ExitCode:
    written = write_report(args.results_dir, args.output)  # a stale control or no baseline run: a UsageError
    print(f"report written to {written} (figures in {written.parent / FIGURES_DIR})")
    return ExitCode.OK
