"""`python -m bench instructions`: instruction (callgrind) and system-call (strace) counts per call.

The counting is bench.runners.instructions', the saved counts bench.gate.instructions'."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode
from bench.gate.instructions import DEFAULT_CALLS, REPEATS_FOR_TOLERANCE, SAVED_COUNTS, count_instructions
from bench.model import results
from bench.model.options import add_candidates_option, add_only_option, add_quick_option, add_seed_option

HELP: Final = (
    "Count instructions (callgrind) and system calls (strace) per call of each benchmark; --save rewrites "
    "the saved counts the `gate --instructions` check reads."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_candidates_option(parser.add_argument, "baseline,optimized")
    add_quick_option(parser.add_argument)
    add_only_option(parser.add_argument)
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="calls per counted run (default: %(default)s)")
    add_seed_option(parser.add_argument)  # counted in the default fixture cache: no --fixture-cache
    parser.add_argument(
        "--save", action="store_true", help=f"repeat {REPEATS_FOR_TOLERANCE}x and rewrite the saved counts"
    )
    parser.add_argument(
        "--saved", type=Path, default=SAVED_COUNTS, help=f"saved counts file (default: {results.shown(SAVED_COUNTS)})"
    )


def run(args: argparse.Namespace) -> ExitCode:
    return count_instructions(
        candidates=args.candidates,
        quick=args.quick,
        only=args.only,
        calls=args.calls,
        seed=args.seed,
        save_to=args.saved if args.save else None,
    )
