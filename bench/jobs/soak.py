"""`python -m bench soak` (`nox -s soak`): the reliability tests long and short, the fsync benchmark, then
results/RELIABILITY.md from what they recorded. Exit 1 when a test failed or a loss was recorded.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.errors import ExitCode, SuiteFailed, UsageError
from bench.model import progress, results
from bench.model.fixtures import Fixtures
from bench.report import reliability
from bench.runners import fsync


def soak(*, rounds: int, values: int, tests: bool, pytest_args: Sequence[str], fixtures: Fixtures) -> ExitCode:
    """The reliability tests long and short (unless not `tests`), the fsync benchmark, then RELIABILITY.md."""
    if rounds < 1 or values < 1:
        raise UsageError(f"--rounds {rounds} and --values {values} must both be at least 1")
    junit, fsync_dir = results.RELIABILITY_JUNIT.path, results.FSYNC.path
    with progress.task("soak", 3 if tests else 2) as step:
        if tests:
            step("the reliability tests, long and short")
            _reliability_tests(junit, pytest_args)
        step("the fsync benchmark")
        fsync.measure(fsync_dir, rounds, values, fixtures)
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


def _reliability_tests(junit: Path, pytest_args: Sequence[str]) -> None:
    tests = sorted(str(path) for path in results.TESTS.glob("*/test_reliability_*.py"))
    cmd = [sys.executable, "-m", "pytest", *tests, "-m", "slow or not slow", "-o", "junit_family=xunit1"]
    done = subprocess.run([*cmd, f"--junitxml={junit}", *pytest_args], cwd=results.REPO_ROOT, check=False)
    if done.returncode not in (0, 1):  # 1: a test failed, which the report shows; anything else: no report
        raise SuiteFailed(f"the reliability tests could not run (pytest exit {done.returncode})")
