"""`python -m bench mutants`: mutmut's mutants of storage/optimized.py against the equivalence suite, then
results/MUTATION.md (bench.jobs.mutants)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode
from bench.jobs.mutants import REPORT, mutants
from bench.jobs.mutants_quick import QUICK_RESULTS, quick_pass
from bench.model import results

HELP: Final = (
    "mutmut's mutants of storage/optimized.py against the equivalence and divergence tests (Hypothesis profile "
    "`mutants`), then results/MUTATION.md with the score and every survivor. About 20 minutes on 2 cores: "
    "a quiet machine."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-children", type=int, default=2, help="mutants judged at once (default: %(default)s)")
    parser.add_argument(
        "--report-only", action="store_true", help="run nothing: the report from the results mutants/ holds"
    )
    parser.add_argument(
        "names", nargs="*", metavar="MUTANT", help="only these mutants (mutmut's names or globs); no report is written"
    )
    parser.add_argument("--output", type=Path, default=REPORT, help="default: results/MUTATION.md")
    parser.add_argument(
        "--quick-pass",
        action="store_true",
        help="the same mutants against the quick answer pass the gate and history run, beside the last full run's "
        f"verdicts: {results.shown(QUICK_RESULTS)}, then results/GATE.md regenerated from it",
    )


def run(args: argparse.Namespace) -> ExitCode:
    if args.quick_pass:
        return quick_pass(max_children=args.max_children)
    return mutants(max_children=args.max_children, report_only=args.report_only, names=args.names, output=args.output)
