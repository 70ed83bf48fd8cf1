"""`python -m bench equivalence`: the Hypothesis equivalence suite run per candidate, verdicts saved for the report.

    python -m bench equivalence                         # optimized, proposed, deployed -> results/equivalence.json
    python -m bench equivalence --candidates mypkg.mystore:MetricsStorage
    python -m bench equivalence --store src/astraguard/hil/metrics/storage.py --repo ../app v2.1   # one revision's

The report never runs tests: it reads the file written here. Each candidate is passed to the suite as
"module:Class", so a store the suite's own runs skip as known to differ (the proposed one) is checked too,
and each failure's Mismatch and Hypothesis's falsifying example are kept as the counterexample. A store at
a revision is passed as a `snapshot:FILE` spec (bench.model.snapshot); `history` checks each commit so,
with the quick profile.
"""

from __future__ import annotations

import enum
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
from typing import Any, Final, cast

from bench.errors import ExitCode, StoreUnusable, SuiteFailed
from bench.model import git, loading, results, revision, snapshot
from bench.model.candidates import BASELINE, label, resolve, select, source_sha256
from bench.model.deployment import DEPLOYED
from bench.model.snapshot import Location, Snapshot

SUITE: Final = ("tests/store/test_equivalence.py", "tests/store/test_stateful.py")  # from the repository root
DEFAULT_OUTPUT: Final = results.EQUIVALENCE.path
PROFILES: Final = ("ci", "thorough", "quick")
QUICK_PROFILE: Final = "quick"  # tests/conftest.py: the explicit examples and a few more, unshrunk
_COUNTEREXAMPLE_LINES: Final = 30
# A Mismatch names the call that differed: "get_recent_runs(limit=0): ..." or "MetricsStorage(...).compare_runs(...)".
_MISMATCH_OPERATION: Final = re.compile(r"\b(save_latency_stats|get_run_metrics|compare_runs|get_recent_runs)\(")


def class_spec(spec: str) -> str:
    """ "proposed" -> "storage.proposed:MetricsStorage": the suite skips no store named this way.

    The deployed layout and a snapshot keep their names: only the harness knows where they lie, and nothing skips them.
    """
    if spec == DEPLOYED or spec.startswith(snapshot.SPEC_PREFIX):
        return spec
    store_class = cast(type, resolve(spec))  # a candidate is a class
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

    IDENTICAL = "identical"  # every property that applies passed
    DIFFERS = "differs"  # a property found a counterexample
    NOT_CHECKED = "not checked"  # nothing ran, or was skipped


def verdict(tests: Sequence[dict[str, Any]]) -> Equivalence:
    """differs: a test failed; identical: every test that applies passed. A skipped test does not apply (a store
    without a cache has no racy window to close); with none passed, nothing was checked."""
    outcomes = {test["outcome"] for test in tests}
    if outcomes & {"failed", "error"}:
        return Equivalence.DIFFERS
    return Equivalence.IDENTICAL if "passed" in outcomes else Equivalence.NOT_CHECKED


def _run_suite(target: str, shown_as: str, profile: str, *, quiet: bool = False) -> list[dict[str, Any]]:
    """The suite on one store (pytest in a child process, from the code's root): one record per test."""
    with tempfile.TemporaryDirectory(prefix="equivalence-") as scratch:
        junit = Path(scratch) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", *SUITE, "--candidate", target, "--only-candidate", target, "-k", target]
        cmd += ["-q", "--tb=no", "-p", "no:cacheprovider", "-o", "junit_family=xunit1", f"--junitxml={junit}"]
        if not quiet:
            print(f"equivalence: {shown_as}: {' '.join(cmd[1:])}", flush=True)
        environment = {**os.environ, "HYPOTHESIS_PROFILE": profile}
        done = subprocess.run(cmd, cwd=results.REPO_ROOT, env=environment, capture_output=quiet, text=True, check=False)
        # 0: all passed; 1: some failed (a verdict); anything else is a broken run, not a verdict.
        if done.returncode not in (0, 1) or not junit.is_file():
            tail = "\n".join((done.stdout or "").strip().splitlines()[-10:]) if quiet else ""
            raise SuiteFailed(
                f"the equivalence suite could not run on {shown_as} (pytest exit {done.returncode})\n{tail}"
            )
        return read_junit(junit, target, shown_as)


def check_candidate(spec: str, profile: str) -> dict[str, Any]:
    """Runs the suite on one candidate (pytest in a child process) and returns its record."""
    target = class_spec(spec)
    tests = _run_suite(target, label(spec), profile)
    return {
        "candidate": label(spec),
        "checked_as": target,
        "candidate_sha256": source_sha256(spec),
        "verdict": verdict(tests),
        "tests": tests,
    }


def differing_operations(tests: Sequence[dict[str, Any]]) -> list[str]:
    """The operations whose answers, files or output differ, in the order of the original's API; "other" for the
    rest (a constructor, the files a sequence of steps left)."""
    found = {test.get("operation") or "other" for test in tests if test["outcome"] in ("failed", "error")}
    order = ["save_latency_stats", "get_run_metrics", "compare_runs", "get_recent_runs", "other"]
    return [name for name in order if name in found]


def check_snapshot(loaded: Snapshot, profile: str = QUICK_PROFILE) -> dict[str, Any]:
    """A store at a revision, judged against the frozen original: the verdict, the operations that differ, the first
    counterexample's first line. The store must load (snapshot.load), or there is nothing to judge."""
    with snapshot.written(loaded) as spec:
        tests = _run_suite(spec, snapshot.short_label(loaded), profile, quiet=True)
    failures = [test for test in tests if test["outcome"] in ("failed", "error")]
    return {
        "verdict": verdict(tests).value,
        "differs_in": differing_operations(tests),
        "profile": profile,
        "tests": len(tests),
        "failed": len(failures),
        "not_applicable": sum(test["outcome"] == "skipped" for test in tests),
        "first_counterexample": failures[0]["counterexample"].splitlines()[0] if failures else None,
    }


def record_candidates(*, candidates: str | None, profile: str, output: Path) -> ExitCode:
    """The suite once per candidate (every registered store and the deployed layout by default), saved to output."""
    specs = [spec for spec in select(candidates, deployed=candidates is None) if spec != BASELINE]
    started = datetime.now(UTC)
    records = [check_candidate(spec, profile) for spec in specs]
    document = {
        "suite": list(SUITE),
        "hypothesis_profile": profile,
        "date": started.isoformat(timespec="seconds"),
        "commit": git.describe_head(results.REPO_ROOT),
        "python": platform.python_version(),
        "baseline_sha256": source_sha256(BASELINE),
        "candidates": records,
    }
    results.write_json_atomically(output, document)
    for record in records:
        failed = sum(test["outcome"] in ("failed", "error") for test in record["tests"])
        tests = len(record["tests"])
        print(f"equivalence: {record['candidate']}: {record['verdict']} ({tests} tests, {failed} failed)")
    print(f"equivalence: written to {output}")
    return ExitCode.OK


def judge_revision(
    *,
    rev: str,
    store: Location,
    collector: Location | None,
    repo_given: Path | None,
    profile: str,
    output: Path | None,
) -> ExitCode:
    """One revision's store against the frozen original: 0 identical, 1 differs or cannot serve."""
    repo = git.repository(repo_given)
    loaded = revision.at(repo, rev, store, collector)
    started = datetime.now(UTC)
    try:
        loading.load(loaded, probed=True)
    except StoreUnusable as e:
        record: dict[str, Any] = {"verdict": Equivalence.NOT_CHECKED.value, "unusable": e.reason}
        print(f"equivalence: {loaded.store} at {loaded.label}: cannot serve: {e.reason}")
    else:
        record = check_snapshot(loaded, profile)
        differs = f" in {', '.join(record['differs_in'])}" if record["differs_in"] else ""
        print(
            f"equivalence: {loaded.store} at {loaded.label}: {record['verdict']}{differs} "
            f"({record['tests']} tests, {record['failed']} failed, Hypothesis profile {profile})"
        )
        if record["first_counterexample"]:
            print(f"  first counterexample: {record['first_counterexample']}")
    if output is not None:
        document = {
            "store": str(loaded.store),
            "collector": str(loaded.collector),
            "commit": loaded.commit,
            "date": started.isoformat(timespec="seconds"),
            "python": platform.python_version(),
            "baseline_sha256": source_sha256(BASELINE),
            **record,
        }
        results.write_json_atomically(output, document)
        print(f"equivalence: written to {output}")
    return ExitCode.OK if record["verdict"] == Equivalence.IDENTICAL.value else ExitCode.FAILED
