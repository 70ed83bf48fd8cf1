"""`python -m bench soak` (`nox -s soak`): the reliability tests long and short, the fsync benchmark, then
results/RELIABILITY.md from what they recorded. Exit 1 when a test failed or a loss was recorded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, SuiteFailed, UsageError
from bench.model import progress, results
from bench.model.options import add_fixture_options, fixtures_from
from bench.report import reliability
from bench.runners import fsync

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
    if args.rounds < 1 or args.values < 1:
        raise UsageError(f"--rounds {args.rounds} and --values {args.values} must both be at least 1")
    junit, fsync_dir = results.RELIABILITY_JUNIT.path, results.FSYNC.path
    with progress.task("soak", 2 if args.no_tests else 3) as step:
        if not args.no_tests:
            step("the reliability tests, long and short")
            _reliability_tests(junit, args.pytest_args)
        step("the fsync benchmark")
        fsync.measure(fsync_dir, args.rounds, args.values, fixtures_from(args))
        step("RELIABILITY.md")
        for cost in reliability.fsync_costs(fsync_dir):
            r = cost.ratio
            bar = "over" if r.estimate > reliability.WORTH_AN_OPTION else "under"
            print(
                f"save_latency_stats[{cost.size}]: plain {cost.plain_median_s * 1e3:.2f} ms, "
                f"fsync {cost.fsynced_median_s * 1e3:.2f} ms; fsync/plain {r.estimate:.3f} "
                f"[{r.low:.3f}, {r.high:.3f}] over {r.pairs} pairs ({bar} the {reliability.WORTH_AN_OPTION:.2f} bar)"
            )
        bad = reliability.write(junit, fsync_dir, results.RELIABILITY_REPORT)
    return ExitCode.FAILED if bad else ExitCode.OK


def _reliability_tests(junit: Path, pytest_args: list[str]) -> None:
    tests = sorted(str(path) for path in results.TESTS.glob("test_reliability_*.py"))
    cmd = [sys.executable, "-m", "pytest", *tests, "-m", "slow or not slow", "-o", "junit_family=xunit1"]
    done = subprocess.run([*cmd, f"--junitxml={junit}", *pytest_args], cwd=results.REPO_ROOT, check=False)
    if done.returncode not in (0, 1):  # 1: a test failed, which the report shows; anything else: no report
        raise SuiteFailed(f"the reliability tests could not run (pytest exit {done.returncode})")
