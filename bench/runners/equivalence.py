"""`python -m bench equivalence`: the Hypothesis equivalence suite run per candidate, verdicts saved for the report.

    python -m bench equivalence                         # optimized, proposed, deployed -> results/equivalence.json
    python -m bench equivalence --candidates mypkg.mystore:MetricsStorage
    python -m bench equivalence --store src/astraguard/hil/metrics/storage.py --repo ../app v2.1   # one revision's

The report never runs tests: it reads the file written here. Each candidate is passed to the suite as
"module:Class", so a store the suite's own runs skip as known to differ (the proposed one) is checked too,
and each failure's Mismatch and Hypothesis's falsifying example are kept as the counterexample. A store at
a revision is passed as a `snapshot:FILE` spec (bench.stores.snapshot); `history` checks each commit so,
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

from bench.errors import ExitCode, HarnessError, RevisionError, StoreUnusable, SuiteFailed
from bench.model import git, results
from bench.model.answer_record import AnswerRecord, CollectorAnswers, Equivalence
from bench.model.location import Location
from bench.stores import loading, revision, snapshot
from bench.stores.candidates import BASELINE, label, resolve, select, source_sha256
from bench.stores.deployment import DEPLOYED
from bench.stores.snapshot import Snapshot

# From the repository root: the store's properties, and its collector's against the frozen original's.
COLLECTOR_SUITE: Final = "test_collector_answers"
SUITE: Final = ("tests/store/test_equivalence.py", "tests/store/test_stateful.py", f"tests/store/{COLLECTOR_SUITE}.py")
DEFAULT_OUTPUT: Final = results.EQUIVALENCE.path
PROFILES: Final = ("ci", "thorough", "quick")
QUICK_PROFILE: Final = "quick"  # tests/conftest.py: the explicit examples and a few more, unshrunk
NO_SHRINK: Final = "HYPOTHESIS_NO_SHRINK"  # tests/conftest.py: the profile without its shrink phase
_COUNTEREXAMPLE_LINES: Final = 30
# A Mismatch names the call that differed: "get_recent_runs(limit=0): ..." or "MetricsStorage(...).compare_runs(...)".
_MISMATCH_OPERATION: Final = re.compile(r"\b(save_latency_stats|get_run_metrics|compare_runs|get_recent_runs)\(")


class Blame(enum.StrEnum):
    """Whose doing a failed test shows: only a Mismatch is a verdict on the store (or on its collector)."""

    STORE = "store"  # the store answered, wrote or printed what the frozen original does not, given the same inputs
    COLLECTOR = "collector"  # the revision's collector records, answers or saves what the original's does not
    HARNESS = "harness"  # any other exception: the suite's own code failed, and nothing was judged


def blame(message: str) -> Blame:
    first = message.partition("\n")[0]
    if "CollectorMismatch:" in first:
        return Blame.COLLECTOR
    # A store that answers differently from one run to the next fails as Flaky, around its Mismatch.
    if "Mismatch:" in first or ("Flaky" in first.split(":", 1)[0] and "Mismatch:" in message):
        return Blame.STORE
    return Blame.HARNESS


def class_spec(spec: str) -> str:
    """ "proposed" -> "storage.proposed:MetricsStorage": the suite skips no store named this way.

    The deployed layout and a snapshot keep their names: only the harness knows where they lie, and nothing skips them.
    An outside "package.module:Class" is already that form, and is imported by the suite's own process.
    """
    if spec == DEPLOYED or spec.startswith(snapshot.SPEC_PREFIX) or ":" in spec:
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
            # which of the two the test judges: the collector's own test, or the store (fed that collector)
            "judges": (Blame.COLLECTOR if COLLECTOR_SUITE in case.get("classname", "") else Blame.STORE).value,
        }
        for child in case:
            if child.tag in ("failure", "error"):
                message = child.get("message") or child.text or ""
                found = _MISMATCH_OPERATION.search(message.partition("\n")[0])
                record.update(
                    outcome="failed" if child.tag == "failure" else "error",
                    blame=(blame(message) if child.tag == "failure" else Blame.HARNESS).value,
                    operation=found.group(1) if found else None,
                    counterexample=_counterexample(message),
                )
            elif child.tag == "skipped":
                record["outcome"] = "skipped"
        tests.append(record)
    return tests


def _failed(tests: Sequence[dict[str, Any]], whose: Blame) -> list[dict[str, Any]]:
    # Records saved before failures were blamed were all the store's: the suite then held nothing else.
    return [t for t in tests if t["outcome"] in ("failed", "error") and t.get("blame", Blame.STORE) == whose]


def verdict(tests: Sequence[dict[str, Any]], whose: Blame = Blame.STORE) -> Equivalence:
    """differs: a test found the store's (or the collector's) counterexample; identical: every test of it that
    applies passed. A skipped test does not apply (a store without a cache has no racy window to close); with none
    passed, nothing was checked."""
    if _failed(tests, whose):
        return Equivalence.DIFFERS
    judged = [t for t in tests if t.get("judges", Blame.STORE) == whose]
    return Equivalence.IDENTICAL if any(t["outcome"] == "passed" for t in judged) else Equivalence.NOT_CHECKED


def no_harness_failure(tests: Sequence[dict[str, Any]], shown_as: str) -> None:
    """A HarnessError naming the first test that failed in the suite's own code: it is never a verdict."""
    broken = _failed(tests, Blame.HARNESS)
    if broken:
        first = broken[0]["counterexample"].splitlines()[0] if broken[0]["counterexample"] else "(no message)"
        raise HarnessError(
            f"the equivalence suite failed in its own code, not in {shown_as}'s, so it gives no verdict: "
            f"{broken[0]['test']}: {first} ({len(broken)} of {len(tests)} tests so failed)"
        )


def _suite_groups(profile: str) -> list[tuple[tuple[str, ...], str]]:
    """(files, -k condition) of the pytest processes that run the suite side by side. The stateful test, whose
    shrinking of a failure takes longest (37 to 57 s of a run on a store that differs, by Hypothesis version), runs
    apart, its file-time conditions split too; the quick profile, which never shrinks and runs beside another pass
    already (history, the gate), runs whole in one process."""
    if profile == QUICK_PROFILE:
        return [(SUITE, "")]
    stateful = tuple(f for f in SUITE if f.endswith("test_stateful.py"))
    rest = tuple(f for f in SUITE if f not in stateful)
    # The properties' failures first: each operation's "why" is its first failure, and theirs are shrunk.
    return [(rest, ""), (stateful, " and as-is"), (stateful, " and not as-is")]


def _run_suite(
    target: str, shown_as: str, profile: str, *, quiet: bool = False, shrink_stateful: bool = True
) -> list[dict[str, Any]]:
    """The suite on one store (pytest in child processes, from the code's root): one record per test.

    shrink_stateful False: the stateful test's counterexample is not shrunk (tests/conftest.py's
    HYPOTHESIS_NO_SHRINK), for a verdict in bounded time; the first line it reports, the call that differed, reads
    the same.
    """
    environment = {**os.environ, "HYPOTHESIS_PROFILE": profile}
    with tempfile.TemporaryDirectory(prefix="equivalence-") as scratch:
        running = []
        for index, (files, condition) in enumerate(_suite_groups(profile)):
            junit = Path(scratch) / f"junit-{index}.xml"
            cmd = [sys.executable, "-m", "pytest", *files, "--candidate", target, "--only-candidate", target]
            cmd += [
                "-k",
                f"{target}{condition}",
                "-q",
                "--tb=no",
                "-p",
                "no:cacheprovider",
                "-o",
                "junit_family=xunit1",
            ]
            cmd.append(f"--junitxml={junit}")
            if not quiet:
                print(f"equivalence: {shown_as}: {' '.join(cmd[1:])}", flush=True)
            unshrunk = not shrink_stateful and any(f.endswith("test_stateful.py") for f in files)
            process = subprocess.Popen(
                cmd,
                cwd=results.REPO_ROOT,
                env={**environment, NO_SHRINK: "1"} if unshrunk else environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            running.append((process, junit))
        tests = []
        for process, junit in running:
            output, _ = process.communicate()
            if not quiet:
                print(output, end="", flush=True)
            # 0: all passed; 1: some failed (a verdict); anything else is a broken run, not a verdict.
            if process.returncode not in (0, 1) or not junit.is_file():
                tail = "\n".join(output.strip().splitlines()[-10:])
                raise SuiteFailed(
                    f"the equivalence suite could not run on {shown_as} (pytest exit {process.returncode})\n{tail}"
                )
            tests += read_junit(junit, target, shown_as)
    no_harness_failure(tests, shown_as)
    return tests


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
    found = {test.get("operation") or "other" for test in _failed(tests, Blame.STORE)}
    order = ["save_latency_stats", "get_run_metrics", "compare_runs", "get_recent_runs", "other"]
    return [name for name in order if name in found]


def _first_line(test: dict[str, Any]) -> str:
    return test["counterexample"].splitlines()[0] if test["counterexample"] else ""


def _why(test: dict[str, Any]) -> str:
    """A failed test's property in words, and its counterexample's first line: 'reading after a second save: ...'."""
    words = test["test"].partition("[")[0].removeprefix("test_").replace("_", " ")
    return f"{words}: {_first_line(test).partition(': ')[2] or _first_line(test)}"


def answers_of(tests: Sequence[dict[str, Any]], profile: str) -> AnswerRecord:
    """A store's answers as history points and the gate record them: its verdict, the operations that differ (each
    with why), the first counterexample's first line, and its collector's verdict."""
    failures = _failed(tests, Blame.STORE)
    collector_failures = _failed(tests, Blame.COLLECTOR)
    collector_difference = _first_line(collector_failures[0]).partition(": ")[2] if collector_failures else None
    differs_in = differing_operations(tests)
    return AnswerRecord(
        verdict=verdict(tests).value,
        differs_in=tuple(differs_in),
        why={op: _why(next(t for t in failures if (t.get("operation") or "other") == op)) for op in differs_in},
        profile=profile,
        tests=len(tests),
        failed=len(failures),
        not_applicable=sum(test["outcome"] == "skipped" for test in tests),
        first_counterexample=_first_line(failures[0]) if failures else None,
        collector=CollectorAnswers(
            verdict(tests, Blame.COLLECTOR).value,
            collector_difference.removeprefix("collector: ") if collector_difference else None,
        ),
    )


def check_snapshot(loaded: Snapshot, profile: str = QUICK_PROFILE, *, shrink_stateful: bool = True) -> AnswerRecord:
    """A store at a revision, judged against the frozen original with both fed the revision's collector, and that
    collector against the original's. The store must load (snapshot.load), or there is nothing to judge."""
    with snapshot.written(loaded) as spec:
        tests = _run_suite(spec, snapshot.short_label(loaded), profile, quiet=True, shrink_stateful=shrink_stateful)
    return answers_of(tests, profile)


def check_named(spec: str, profile: str = QUICK_PROFILE) -> AnswerRecord:
    """The same for a store named by registry name or package.module:Class (the gate's candidate)."""
    return answers_of(_run_suite(class_spec(spec), label(spec), profile, quiet=True), profile)


def answers_text(record: AnswerRecord | None, collector_changed: bool | None = None) -> str:
    """A commit's answers in words: the store's verdict, then its collector's ("changed" where this commit changed
    its source). Records saved before collectors were judged say the store's alone, as they did."""
    if record is None:
        return "not checked"
    store = record.store_text()
    collector = record.collector
    if collector is None:
        return store
    state = {True: "collector changed", False: "collector unchanged", None: "collector"}[collector_changed]
    if collector.verdict == Equivalence.DIFFERS.value:
        return f"store {store}; {state}: {collector.first_difference}"
    if collector.verdict == Equivalence.IDENTICAL.value:
        return f"store {store}; {state}: same output as the original's"
    return f"store {store}; {state}: the frozen original's own, not compared"  # the one reason its test skips


def record_candidates(*, candidates: str | None, profile: str, output: Path) -> ExitCode:
    """The suite once per candidate (every registered store and the deployed layout by default), saved to output."""
    specs = [spec for spec in select(candidates, deployed=candidates is None) if spec != BASELINE]
    record_specs(specs, profile, output)
    return ExitCode.OK


def record_specs(specs: Sequence[str], profile: str, output: Path) -> None:
    """The suite once per candidate spec, saved to output (results/equivalence.json's format)."""
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
        failed = len(_failed(record["tests"], Blame.STORE))
        tests = len(record["tests"])
        differs = f" in {', '.join(differing_operations(record['tests']))}" if failed else ""
        print(f"equivalence: {record['candidate']}: {record['verdict']}{differs} ({tests} tests, {failed} failed)")
    print(f"equivalence: written to {output}")


def _collector_changed_here(repo: Path, loaded: Snapshot) -> bool | None:
    """Whether the commit changed the collector's source against its first parent; None for a root commit, or a
    parent without the store."""
    parent = git.commit_of(repo, f"{loaded.commit}^")
    if parent is None:
        return None
    try:
        before = revision.at(repo, parent, loaded.store, loaded.collector)
    except RevisionError:
        return None
    now, then = loaded.source_sha256(loaded.collector), before.source_sha256(before.collector)
    return None if now is None or then is None else now != then


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
        found = check_snapshot(loaded, profile, shrink_stateful=False)
        changed = _collector_changed_here(repo, loaded)
        record = {**found.to_json(), "collector_changed": changed}
        print(
            f"equivalence: {loaded.store} at {loaded.label}: {answers_text(found, changed)} "
            f"({found.tests} tests, {found.failed} failed, Hypothesis profile {profile})"
        )
        for operation, why in found.why.items():
            print(f"  {operation}: {why}")
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
