"""results/RELIABILITY.md from what a soak run saved: the reliability tests' JUnit XML and the fsync pyperf files.

Written by `python -m bench soak` (bench.jobs.soak), after the tests and the fsync benchmark.

Every figure comes from a property a test recorded with record_property (see the tests'
record_property calls) or from the pyperf files; nothing is typed in. Exits 1 when a test failed
or any loss was recorded, after writing the report that says so.
"""

from __future__ import annotations

import platform
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from bench.errors import UsageError
from bench.model import git
from bench.model.operations import find_case
from bench.model.results import REPO_ROOT, load_pyperf, write_text_atomically
from bench.model.stats import RatioInterval, ratio_interval
from bench.runners.fsync import FSYNCED, PLAIN
from bench.stores.candidates import label

WORTH_AN_OPTION: Final = 1.10  # the bar: above a 10% cost, fsync must be an explicit option

_FILE_TITLES = {
    "test_reliability_crash": "Crash safety (SIGKILL at random moments)",
    "test_reliability_concurrency": "Concurrency (writer and reader processes)",
    "test_reliability_write_errors": "Write errors (full disk, folder in the way, permissions)",
    "test_reliability_hostile_input": "Hostile input (run ids, summaries, trees)",
    "test_reliability_fuzz": "Hypothesis fuzzing",
    "test_reliability_kernel_faults": "The kernel's own faults (tmpfs, read-only bind mount, no CAP_DAC_OVERRIDE)",
    "test_reliability_harness_kills": "The harness's own commands under SIGKILL",
    "test_reliability_saved_files": "Fuzzed saved files (truncated, wrong schema, hostile, corrupted)",
}


@dataclass(frozen=True)
class FsyncCost:
    size: int
    plain_median_s: float
    fsynced_median_s: float
    ratio: RatioInterval  # fsync time / plain time, per pair of processes run next to each other


def fsync_costs(pyperf_dir: Path) -> list[FsyncCost]:
    """The cost at each size, from the two pyperf files a run left in pyperf_dir."""
    plain = load_pyperf(pyperf_dir / f"{label(PLAIN)}.json")
    fsynced = load_pyperf(pyperf_dir / f"{label(FSYNCED)}.json")
    costs = []
    for name in sorted(plain, key=lambda name: find_case(name)[1]):
        # ratio_interval(candidate, baseline) is baseline / candidate: here fsynced / plain.
        ratio = ratio_interval(plain[name].process_medians, fsynced[name].process_medians)
        costs.append(FsyncCost(find_case(name)[1], plain[name].median, fsynced[name].median, ratio))
    return costs


@dataclass
class TestResult:
    module: str
    name: str
    outcome: str  # passed, failed, skipped
    seconds: float
    message: str = ""
    figures: dict[str, int] = field(default_factory=dict)


def read_junit(path: Path) -> list[TestResult]:
    """Each testcase of a pytest --junitxml file (junit_family=xunit1, which keeps properties)."""
    results = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = "skipped" if tag == "skipped" else "failed"
                message = found.get("message", "")
        figures = {p.get("name", ""): int(p.get("value", "0")) for p in case.iter("property")}
        module = case.get("classname", "").rsplit(".", 1)[-1]
        results.append(TestResult(module, case.get("name", ""), outcome, float(case.get("time", 0)), message, figures))
    if not results:
        raise UsageError(f"{path} holds no test case: did the soak run select any test?")
    return results


def _total(results: Sequence[TestResult], figure: str) -> int:
    return sum(r.figures.get(figure, 0) for r in results)


def _headline(results: Sequence[TestResult]) -> list[str]:
    crash = [r for r in results if r.module == "test_reliability_crash"]
    concurrency = [r for r in results if r.module == "test_reliability_concurrency" and "writers" in r.figures]
    held = ", ".join(f"{r.figures['writers']} writers × {r.figures['saves_per_writer']} saves" for r in concurrency)
    fixed_cases = [
        r for r in results if r.module in ("test_reliability_write_errors", "test_reliability_hostile_input")
    ]
    failed = [r for r in results if r.outcome == "failed"]
    losses = _total(results, "losses")
    return [
        "| figure | value |",
        "| --- | --- |",
        f"| kills survived (SIGKILL mid-save, files checked whole after each) | {_total(crash, 'kills')} |",
        f"| saves acknowledged by the killed processes | {_total(crash, 'saves_acknowledged')} |",
        f"| kills that fell between the two replaces (new summary, previous CSV) | "
        f"{_total(crash, 'pairs_split_between_replaces')} |",
        f"| temporaries left behind by kills (hidden names, never read) | "
        f"{_total(crash, 'temporaries_left_by_kills')} |",
        f"| writers × saves held | {held or 'none ran'} |",
        f"| reads checked (whole, never stale, never None for a saved run) | {_total(results, 'reads_checked')} |",
        f"| of which raced a save of their run | {_total(results, 'reads_during_a_save_of_their_run')} |",
        f"| listings checked (get_recent_runs) | {_total(results, 'listings_checked')} |",
        f"| fuzzed summaries tried | {_total(results, 'summaries_tried')} |",
        f"| fuzzed result trees tried | {_total(results, 'trees_tried')} |",
        f"| fixed hostile inputs and write errors tried (passed / skipped) | "
        f"{sum(r.outcome == 'passed' for r in fixed_cases)} / {sum(r.outcome == 'skipped' for r in fixed_cases)} |",
        *_harness_rows(results),
        f"| **losses** (recorded by the tests) | **{losses}** |",
        f"| **tests failed** | **{len(failed)}** |",
    ]


def _harness_rows(results: Sequence[TestResult]) -> list[str]:
    """The harness's own faults: kills per command, files loaded after them, and the fuzzed saved files."""
    kills = [r for r in results if r.module == "test_reliability_harness_kills"]
    fuzz = [r for r in results if r.module == "test_reliability_saved_files" and "truncated_variants" in r.figures]
    rows = []
    for r in kills:
        name = r.name.partition("[")[2].rstrip("]") or "history (short)"
        f = r.figures
        rows.append(
            f"| SIGKILLs of `{name}` (files loaded after them; unloadable; points re-measured; temporaries left) | "
            f"{f.get('kills', 0)} ({f.get('files_checked', 0)}; {f.get('unloadable_files', 0)}; "
            f"{f.get('points_rewritten', 0)}; {f.get('left_temporary', 0)}) |"
        )
    for r in fuzz:
        kind = r.name.partition("[")[2].rstrip("]")
        tried = sum(v for k, v in r.figures.items() if k.endswith("_variants"))
        rows.append(
            f"| fuzzed `{kind}` files: truncated / wrong schema / hostile (refused; read as still valid) | "
            f"{r.figures.get('truncated_variants', 0)} / {r.figures.get('wrong_schema_variants', 0)} / "
            f"{r.figures.get('hostile_variants', 0)} ({r.figures.get('refused', 0)} of {tried}; "
            f"{r.figures.get('read', 0)}) |"
        )
    return rows


def _per_test(results: Sequence[TestResult]) -> list[str]:
    lines = []
    for module, title in _FILE_TITLES.items():
        in_module = [r for r in results if r.module == module]
        if not in_module:
            continue
        lines += ["", f"### {title}", "", "| test | outcome | seconds | figures |", "| --- | --- | --- | --- |"]
        for r in in_module:
            figures = ", ".join(f"{name} {value}" for name, value in r.figures.items())
            outcome = f"{r.outcome}: {r.message}" if r.message else r.outcome
            lines.append(f"| `{r.name}` | {outcome.replace('|', '/')} | {r.seconds:.1f} | {figures} |")
    return lines


def _fsync(costs: Sequence[FsyncCost]) -> list[str]:
    lines = [
        "| save_latency_stats | fsync=False median | fsync=True median | fsync / plain (95% interval) | pairs |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in costs:
        r = c.ratio
        lines.append(
            f"| {c.size:,} measurements | {c.plain_median_s * 1e3:.2f} ms | {c.fsynced_median_s * 1e3:.2f} ms "
            f"| {r.estimate:.2f} ({r.low:.2f} to {r.high:.2f}) | {r.pairs} |"
        )
    lines += ["", f"Against the issue's bar of {WORTH_AN_OPTION - 1:.0%}:", ""]
    for c in costs:
        r = c.ratio
        if r.low > WORTH_AN_OPTION:
            judged = f"costs more than {WORTH_AN_OPTION - 1:.0%} (the whole interval is above)"
        elif r.high <= WORTH_AN_OPTION:
            judged = f"costs at most {WORTH_AN_OPTION - 1:.0%} (the whole interval is at or below)"
        else:
            judged = "undecided: the interval reaches across the bar"
        lines.append(f"- {c.size:,} measurements: {judged}.")
    lines += ["", "fsync is an explicit option either way, off by default: `MetricsStorage(..., fsync=True)`."]
    return lines


def _provenance() -> str:
    commit = git.output(REPO_ROOT, "rev-parse", "--short", "HEAD").strip()
    # results/ is left out: the soak run itself rewrites the committed results before this report.
    dirty = git.changed(REPO_ROOT, [".", ":!results"], untracked=False)
    revision = commit + (" with uncommitted changes" if dirty else "")
    machine = f"{platform.platform()}, Python {platform.python_version()}"
    return f"{datetime.now():%Y-%m-%d %H:%M}, commit {revision}, {machine}"


def render(results: Sequence[TestResult], costs: Sequence[FsyncCost]) -> str:
    lines = [
        "# Reliability of the optimized store",
        "",
        f"Written by `nox -s soak` ({_provenance()}) from the reliability tests' recorded figures",
        "(long and short variants) and the fsync benchmark; do not edit by hand.",
        "",
        "## Figures",
        "",
        *_headline(results),
        "",
        "## The cost of fsync",
        "",
        *(_fsync(costs) if costs else ["Not measured in this run."]),
        "",
        "## Each test",
        *_per_test(results),
        "",
    ]
    return "\n".join(lines)


def write(junit: Path, fsync: Path | None, output: Path) -> int:
    """Writes the report; returns how many tests failed plus how many losses they recorded."""
    results = read_junit(junit)
    costs = fsync_costs(fsync) if fsync else []
    write_text_atomically(output, render(results, costs))
    bad = sum(r.outcome == "failed" for r in results) + _total(results, "losses")
    print(f"{output}: {len(results)} tests, {bad} failures and losses")
    return bad
