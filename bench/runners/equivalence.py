"""`python -m bench equivalence`: the Hypothesis equivalence suite run per candidate, verdicts saved for the report.

    python -m bench equivalence                         # optimized, proposed, deployed -> results/equivalence.json
    python -m bench equivalence --candidates mypkg.mystore:MetricsStorage

The report never runs tests: it reads the file written here. Each candidate is passed to the suite as
"module:Class", so a store the suite's own runs skip as known to differ (the proposed one) is checked too,
and each failure's Mismatch and Hypothesis's falsifying example are kept as the counterexample.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bench.errors import ExitCode, SuiteFailed
from bench.model import results
from bench.model.candidates import BASELINE, label, resolve, select, source_sha256
from bench.model.deployment import DEPLOYED
from bench.model.options import add_candidates_option

HELP: Final = "The equivalence suite run once per candidate; verdicts and counterexamples to results/equivalence.json."
SUITE: Final = ("tests/test_equivalence.py", "tests/test_stateful.py")  # from the repository root
DEFAULT_OUTPUT: Final = results.EQUIVALENCE.path
_COUNTEREXAMPLE_LINES: Final = 30
# A Mismatch names the call that differed: "get_recent_runs(limit=0): ..." or "MetricsStorage(...).compare_runs(...)".
_MISMATCH_OPERATION: Final = re.compile(r"\b(save_latency_stats|get_run_metrics|compare_runs|get_recent_runs)\(")


def class_spec(spec: str) -> str:
    """ "proposed" -> "storage.proposed:MetricsStorage": the suite skips no store named this way.

    The deployed layout keeps its name: only the harness knows where it lies, and nothing skips it.
    """
    if spec == DEPLOYED:
        return DEPLOYED
    store_class = resolve(spec)
    return f"{store_class.__module__}:{store_class.__qualname__}"


def _counterexample(message: str) -> str:
    """The Mismatch and Hypothesis's falsifying example, without its coverage explanation."""
    lines = message.splitlines()
    if "Explanation:" in lines:
        lines = lines[: lines.index("Explanation:")]
    if len(lines) > _COUNTEREXAMPLE_LINES:
        lines = [*lines[:_COUNTEREXAMPLE_LINES], f"... ({len(lines) - _COUNTEREXAMPLE_LINES} more lines)"]
    return "\n".join(lines)


def read_junit(path: Path, spec: str, shown_as: str) -> list[dict[str, Any]]:
    """One record per test case: its id (with the candidate's label), outcome, seconds, and any counterexample."""
    tests = []
    for case in ET.parse(path).iter("testcase"):
        record: dict[str, Any] = {
            "test": case.get("name", "").replace(spec, shown_as),
            "outcome": "passed",
            "seconds": float(case.get("time", 0.0)),
        }
        for child in case:
            if child.tag in ("failure", "error"):
                message = child.get("message") or child.text or ""
                found = _MISMATCH_OPERATION.search(message.partition("\n")[0])
                record.update(
                    outcome="failed" if child.tag == "failure" else "error",
                    operation=found.group(1) if found else None,
                    counterexample=_counterexample(message),
                )
            elif child.tag == "skipped":
                record["outcome"] = "skipped"
        tests.append(record)
    return tests


class Equivalence(enum.StrEnum):
    """A candidate's answers against the baseline's, as saved in results/equivalence.json."""

    IDENTICAL = "identical"  # every property passed
    DIFFERS = "differs"  # a property found a counterexample
    NOT_CHECKED = "not checked"  # nothing ran, or was skipped


def verdict(tests: Sequence[dict[str, Any]]) -> Equivalence:
    outcomes = {test["outcome"] for test in tests}
    if outcomes & {"failed", "error"}:
        return Equivalence.DIFFERS
    return Equivalence.IDENTICAL if outcomes == {"passed"} else Equivalence.NOT_CHECKED


def check_candidate(spec: str, profile: str) -> dict[str, Any]:
    """Runs the suite on one candidate (pytest in a child process) and returns its record."""
    target = class_spec(spec)
    with tempfile.TemporaryDirectory(prefix="equivalence-") as scratch:
        junit = Path(scratch) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", *SUITE, "--candidate", target, "-k", target, "-q", "--tb=no"]
        cmd += ["-p", "no:cacheprovider", "-o", "junit_family=xunit1", f"--junitxml={junit}"]
        print(f"equivalence: {label(spec)}: {' '.join(cmd[1:])}", flush=True)
        environment = {**os.environ, "HYPOTHESIS_PROFILE": profile}
        done = subprocess.run(cmd, cwd=results.REPO_ROOT, env=environment, check=False)
        # 0: all passed; 1: some failed (a verdict); anything else is a broken run, not a verdict.
        if done.returncode not in (0, 1) or not junit.is_file():
            raise SuiteFailed(f"the equivalence suite could not run on {spec} (pytest exit {done.returncode})")
        tests = read_junit(junit, target, label(spec))
    return {
        "candidate": label(spec),
        "checked_as": target,
        "candidate_sha256": source_sha256(spec),
        "verdict": verdict(tests),
        "tests": tests,
    }


def _commit() -> str:
    git = ["git", "-C", str(results.REPO_ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, check=False).stdout
    return f"{head or 'unknown'}{' (uncommitted changes)' if dirty.strip() else ''}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_candidates_option(parser.add_argument, "every registered store and the deployed layout")
    parser.add_argument("--profile", default="ci", choices=("ci", "thorough"), help="Hypothesis profile")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="default: results/equivalence.json")


def run(args: argparse.Namespace) -> ExitCode:
    specs = [spec for spec in select(args.candidates, deployed=args.candidates is None) if spec != BASELINE]
    started = datetime.now(UTC)
    records = [check_candidate(spec, args.profile) for spec in specs]
    document = {
        "suite": list(SUITE),
        "hypothesis_profile": args.profile,
        "date": started.isoformat(timespec="seconds"),
        "commit": _commit(),
        "python": platform.python_version(),
        "baseline_sha256": source_sha256(BASELINE),
        "candidates": records,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    staging = args.output.with_name(f".{args.output.name}.tmp")
    staging.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(staging, args.output)
    for record in records:
        failed = sum(test["outcome"] in ("failed", "error") for test in record["tests"])
        tests = len(record["tests"])
        print(f"equivalence: {record['candidate']}: {record['verdict']} ({tests} tests, {failed} failed)")
    print(f"equivalence: written to {args.output}")
    return ExitCode.OK
