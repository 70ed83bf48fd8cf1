"""`python -m bench site-cost`: what publishing the dashboard costs, on a generated history (bench.jobs.site_cost)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, UsageError
from bench.jobs.site_cost import TARGETS, measure
from bench.model import results

HELP: Final = (
    "Time `publish` over a generated history (default 1,000 commits x 9 benchmarks x 4 machines) and the draw of its "
    "largest page in headless Chromium, each the median of --rounds runs with its range, and the site's size, "
    "against the targets (publish <= 10 s, draw <= 2 s, site <= 5 MB). A timing job: run nothing else meanwhile. "
    "Exit 1 when a target is missed."
)
DEFAULT_OUTPUT: Final = results.RESULTS / "site-cost.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=5, help="runs of each (default: %(default)s)")
    parser.add_argument("--commits", type=int, default=1000, help="default: %(default)s")
    parser.add_argument("--machines", type=int, default=4, help="default: %(default)s")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"default: {results.shown(DEFAULT_OUTPUT)}")


def run(args: argparse.Namespace) -> ExitCode:
    if args.rounds < 3 or args.commits < 3 or args.machines < 1:
        raise UsageError("need --rounds >= 3 (a median and its range), --commits >= 3 and --machines >= 1")
    found = measure(args.rounds, args.commits, args.machines, args.output)
    history = found["history"]
    print(
        f"history: {history['commits']} commits x {history['benchmarks']} benchmarks x {history['machines']} machines"
    )
    missed = []
    for key, unit in (("publish_s", "s"), ("draw_s", "s")):
        spread = found[key]
        met = spread["median"] <= TARGETS[key]
        missed += [] if met else [key]
        print(
            f"{key[:-2]:8} median {spread['median']:.2f} {unit} [range {spread['min']:.2f}, {spread['max']:.2f}] over "
            f"{found['rounds']} runs; target <= {TARGETS[key]:g} {unit}: {'met' if met else 'MISSED'}"
        )
    met = found["site_bytes"] <= TARGETS["site_bytes"]
    missed += [] if met else ["site_bytes"]
    print(
        f"site     {found['site_bytes'] / 1e6:.2f} MB (largest page {found['largest_page']['name']}, "
        f"{found['largest_page']['bytes'] / 1e6:.2f} MB); target <= 5 MB: {'met' if met else 'MISSED'}"
    )
    print(f"written to {results.shown(args.output)}")
    return ExitCode.FAILED if missed else ExitCode.OK
