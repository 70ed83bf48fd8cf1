"""`python -m bench report`: REPORT.md and its figures, from saved result files only. It never runs a benchmark.

    python -m bench report                  # results/ (the committed runs) -> results/REPORT.md, results/report/
    python -m bench report results/latest   # the latest `nox -s bench` run -> results/latest/REPORT.md

It reads RESULTS/pyperf/*.json and the newest RESULTS/pytest-benchmark run (bench.model.results' loaders),
the floors (RESULTS/floors.json, bench.runners.pyperf_floors) and the equivalence verdicts (RESULTS/equivalence.json,
bench.runners.equivalence); the last two fall back to the committed results/ when RESULTS has none.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyperf

from bench.errors import ExitCode, UsageError
from bench.history import points as history
from bench.model.candidates import BASELINE, check_control, source_sha256
from bench.model.deployment import DEPLOYED
from bench.model.floors import FLOORS, REFERENCE, floor_name, reference_name
from bench.model.operations import OPERATIONS, case_name, operation_sizes
from bench.model.results import RESULTS, Measured, Results, latest_pytest_benchmark, load_pyperf
from bench.model.results import shown as shown_path
from bench.model.stats import RatioInterval, ratio_interval
from bench.model.stats import verdict as target_verdict
from bench.report import claims, plots
from bench.report.summary import Row, build_rows, collect, render, seconds_text
from storage import CANDIDATES, optimized

HELP: Final = "results/REPORT.md and its plots, from saved result files only (it never runs a benchmark)."
COMMITTED: Final = RESULTS
REPORT_NAME: Final = "REPORT.md"
FIGURES_DIR: Final = "report"
FLOORS_FILE: Final = "floors.json"
EQUIVALENCE_FILE: Final = "equivalence.json"
SIZE_UNITS: Final = {
    "save_latency_stats": "measurements in the collector",
    "get_run_metrics_cold": "measurements in the summary",
    "get_run_metrics_warm": "measurements in the summary",
    "compare_runs": "measurements per run",
    "get_recent_runs": "run folders",
}
CLAIM_CANDIDATES: Final = ("proposed", "optimized")
DIFFERING_MARK: Final = " (for answers that differ)"
MISSING_FIGURE: Final = {
    "scaling": "no operation was measured at two sizes or more in this run (a --quick run measures one)",
    "speedups": "no candidate was measured beside the baseline in this run",
    "memory": "no peak memory was recorded in this run",
    "history": "no history points under RESULTS/history/ (python -m bench history)",
}
HISTORY_DIR: Final = "history"


@dataclass(frozen=True)
class SavedFile:
    """A results file the report read, and what it holds."""

    path: Path
    data: Any


@dataclass(frozen=True)
class Inputs:
    """Everything the report is made of, as loaded from disk."""

    results_dir: Path
    pyperf_files: dict[str, Path]
    pyperf: Results
    pytest_file: Path | None
    pytest: Results
    candidates: list[str]
    rows: list[Row]
    floors: SavedFile | None  # data: {benchmark name: Measured}
    equivalence: SavedFile | None  # data: the bench.runners.equivalence document
    left_out: list[str]  # pyperf files of another bench run than the baseline's
    fallback: Path
    history: list[dict[str, Any]]  # bench.history.points's points, under RESULTS/history (else the committed ones)


def _candidate_order(found: Sequence[str]) -> list[str]:
    """Baseline first, then the registered stores in registry order, then outside ones by name."""
    registered = [name for name in CANDIDATES if name in found]
    return registered + sorted(name for name in found if name not in CANDIDATES)


def _find(results_dir: Path, fallback: Path, name: str) -> Path | None:
    """RESULTS/name, else fallback/name (results/): floors and verdicts are not re-measured by every run."""
    for folder in (results_dir, fallback):
        if (folder / name).is_file():
            return folder / name
    return None


def load(results_dir: Path, fallback: Path = COMMITTED) -> Inputs:
    """Reads every saved result the report uses; a UsageError when there is no baseline run."""
    pyperf_files = {path.stem: path for path in sorted((results_dir / "pyperf").glob("*.json"))}
    if BASELINE not in pyperf_files:
        raise UsageError(f"no {results_dir / 'pyperf' / BASELINE}.json: every ratio needs the baseline's run")
    pytest_file = latest_pytest_benchmark(results_dir / "pytest-benchmark")
    pyperf_results, pytest_results = collect(pyperf_files, pytest_file)
    # A file left over from an earlier run (a candidate not measured this time) has no pairs with this baseline.
    base_runs = {m.bench_run for m in pyperf_results[BASELINE].values()}
    same_run = [name for name, found in pyperf_results.items() if {m.bench_run for m in found.values()} & base_runs]
    left_out = sorted(set(pyperf_results) - set(same_run))
    pyperf_files = {name: path for name, path in pyperf_files.items() if name in same_run}
    pyperf_results = {name: pyperf_results[name] for name in same_run}
    candidates = _candidate_order(same_run)
    floors_path = _find(results_dir, fallback, FLOORS_FILE)
    equivalence_path = _find(results_dir, fallback, EQUIVALENCE_FILE)
    # Every figure is a comparison with the frozen baseline: a file measured against another is refused.
    for path in [*pyperf_files.values(), *filter(None, (floors_path,))]:
        check_control(pyperf.BenchmarkSuite.load(str(path)).get_metadata().get("baseline_sha256"), str(path))
    if equivalence_path is not None:
        check_control(json.loads(equivalence_path.read_text()).get("baseline_sha256"), str(equivalence_path))
    return Inputs(
        results_dir=results_dir,
        pyperf_files=pyperf_files,
        pyperf=pyperf_results,
        pytest_file=pytest_file,
        pytest=pytest_results,
        candidates=candidates,
        rows=build_rows(pyperf_results, pytest_results, candidates),
        floors=SavedFile(floors_path, load_pyperf(floors_path)) if floors_path else None,
        equivalence=SavedFile(equivalence_path, json.loads(equivalence_path.read_text())) if equivalence_path else None,
        left_out=left_out,
        fallback=fallback,
        history=_history_points(results_dir, fallback),
    )


def _history_points(results_dir: Path, fallback: Path) -> list[dict[str, Any]]:
    for folder in (results_dir / HISTORY_DIR, fallback / HISTORY_DIR):
        if folder.is_dir():
            return history.load_points(folder)
    return []


def history_panels(inputs: Inputs) -> tuple[list[plots.HistoryPanel], list[dict[str, Any]]]:
    """A panel per benchmark with points, and every change point found in them."""
    panels, found = [], []
    for name in sorted({n for p in inputs.history for n in p["benchmarks"]}):
        series = history.series_of(inputs.history, name)
        change_points = history.change_points(series)
        found += change_points
        first_commits = {cp["commit"] for cp in change_points}
        panels.append(
            plots.HistoryPanel(
                name,
                tuple(c["commit"][:7] for c in series.commits),
                tuple(series.estimates),
                tuple(series.lows),
                tuple(series.highs),
                tuple(m[0] if len(m) == 1 else f"{len(m)} machines" for m in series.machines),
                tuple(i for i, c in enumerate(series.commits) if c["commit"] in first_commits),
            )
        )
    return panels, found


def history_section(inputs: Inputs, change_points: Sequence[dict[str, Any]]) -> str:
    if not inputs.history:
        return f"*No history: {MISSING_FIGURE['history']}.*"
    measured = [p for p in inputs.history if p["skipped"] is None]
    machines = {p["machine"]["id"]: p["machine"]["cpu"] for p in inputs.history}
    lines = [
        f"{len(measured)} commits measured ({len(inputs.history) - len(measured)} skipped), on "
        + ", ".join(f"machine {mid} ({cpu})" for mid, cpu in machines.items())
        + ". Each point is the commit's store time / the frozen baseline's, timed in the same processes, with "
        "its 95% interval; change points by E-Divisive means (signal-processing-algorithms, "
        f"p < {history.CHANGE_POINT_PVALUE}), each at the first commit of the new level.",
    ]
    rows = [(cp["benchmark"], f"`{cp['commit'][:12]}`", cp["subject"], history.step_text(cp)) for cp in change_points]
    lines.append(_table(("benchmark", "first commit of the new level", "subject", "step [95% interval]"), rows))
    checked = [p for p in inputs.history if p.get("equivalence") is not None]
    if checked:
        changes = history.answer_changes(inputs.history)
        lines.append(
            f"Answers: {len(checked)} commits checked against the frozen original (the equivalence suite's quick "
            f"pass); {len(changes)} changed them:"
        )
        rows = [(f"`{c['commit'][:12]}`", c["subject"], c["before"], c["after"]) for c in changes]
        lines.append(_table(("commit", "subject", "answers before", "answers from here"), rows))
    else:
        lines.append("Answers: not checked per commit in these points (measured before history checked them).")
    skipped = [p for p in inputs.history if p["skipped"] is not None]
    if skipped:
        lines.append("Skipped: " + "; ".join(f"`{p['commit'][:12]}` ({p['subject']}): {p['skipped']}" for p in skipped))
    return "\n\n".join(lines)


# --- figures ---------------------------------------------------------------------------------------


def scaling_exponent(sizes: Sequence[int], seconds: Sequence[float]) -> float | None:
    """The least-squares slope of log(time) on log(size): 1 is linear, 0 flat; None with fewer than two sizes."""
    if len(sizes) < 2:
        return None
    fit = statistics.linear_regression([math.log(s) for s in sizes], [math.log(t) for t in seconds])
    return fit.slope


def scaling_curves(inputs: Inputs) -> list[plots.Curve]:
    """Per operation benchmarked at several sizes, per candidate: pyperf medians and the fitted exponent."""
    curves = []
    for operation in OPERATIONS:
        sizes = operation_sizes(operation, large=True)  # the large sizes where a --sizes large run measured them
        if len(sizes) < 2:
            continue
        for candidate in inputs.candidates:
            found = [
                (size, measured)
                for size in sizes
                if (measured := inputs.pyperf[candidate].get(case_name(operation, size))) is not None
            ]
            if len(found) < 2:
                continue
            sizes = tuple(size for size, _ in found)
            medians = tuple(m.median for _, m in found)
            curves.append(
                plots.Curve(
                    operation=operation.name,
                    candidate=candidate,
                    sizes=sizes,
                    seconds=medians,
                    lowest=tuple(min(m.process_medians, default=m.median) for _, m in found),
                    highest=tuple(max(m.process_medians, default=m.median) for _, m in found),
                    exponent=scaling_exponent(sizes, medians),
                )
            )
    return curves


def write_figures(
    inputs: Inputs, curves: Sequence[plots.Curve], panels: Sequence[plots.HistoryPanel], folder: Path
) -> dict[str, Path]:
    """The PNGs there is data for, by role; a figure left out is deleted, so no stale image is linked."""
    folder.mkdir(parents=True, exist_ok=True)
    speedups = [
        plots.Speedup(row.case, row.candidate, row.speedup)
        for row in inputs.rows
        if row.candidate != BASELINE and row.speedup is not None
    ]
    memory = [
        plots.Memory(row.case, row.candidate, row.peak_memory) for row in inputs.rows if row.peak_memory is not None
    ]
    drawn = {
        "scaling": (bool(curves), lambda path: plots.plot_scaling(curves, SIZE_UNITS, inputs.candidates, path)),
        "speedups": (bool(speedups), lambda path: plots.plot_speedups(speedups, inputs.candidates, path)),
        "memory": (bool(memory), lambda path: plots.plot_memory(memory, inputs.candidates, path)),
        "history": (bool(panels), lambda path: plots.plot_history(panels, path)),
    }
    figures = {}
    for role, (has_data, draw) in drawn.items():
        path = folder / f"{role}.png"
        if has_data:
            draw(path)
            figures[role] = path
        else:
            path.unlink(missing_ok=True)
    return figures


# --- sections --------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _times(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _interval_text(interval: RatioInterval) -> str:
    return f"{_times(interval.estimate)}x [{_times(interval.low)}, {_times(interval.high)}]"


def _speedups_of(inputs: Inputs, candidate: str, operation: str) -> dict[int, RatioInterval | None]:
    """The candidate's speedup interval at each size of an operation, from the table's rows."""
    found = {}
    for row in inputs.rows:
        if row.candidate == candidate and row.case.startswith(f"{operation}["):
            found[int(row.case[len(operation) + 1 : -1])] = row.speedup
    return found


def _equivalence_record(inputs: Inputs, candidate: str) -> dict[str, Any] | None:
    if inputs.equivalence is None:
        return None
    return next((r for r in inputs.equivalence.data["candidates"] if r["candidate"] == candidate), None)


def _failures(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [t for t in (record or {}).get("tests", ()) if t["outcome"] in ("failed", "error")]


def _differing_tests(inputs: Inputs, candidate: str, method: str) -> list[str]:
    """The equivalence properties that found the candidate answering otherwise than the baseline in `method`."""
    failed = _failures(_equivalence_record(inputs, candidate))
    return sorted({t["test"].split("[")[0] for t in failed if t.get("operation") == method})


def _outcomes(tests: Sequence[dict[str, Any]]) -> str:
    """ "16 passed, 1 failed, 4 skipped", in that order, zeros left out."""
    counts = Counter(test["outcome"] for test in tests)
    shown = [f"{counts[o]} {o}" for o in ("passed", "failed", "error", "skipped") if counts[o]]
    return ", ".join(shown) or "no tests"


def _where_different(failed: Sequence[dict[str, Any]]) -> str:
    """The methods whose answers differed, and how many failures were no Mismatch (an error in the test run)."""
    methods = sorted({t["operation"] for t in failed if t.get("operation")})
    others = sum(1 for t in failed if not t.get("operation"))
    if others:
        methods.append(f"{others} failure{'s' if others > 1 else ''} other than a Mismatch")
    return ", ".join(methods) or "-"


def _claim_note(inputs: Inputs, claim: claims.Claim, candidate: str) -> str:
    """The claim's own note, and whether the equivalence suite found this candidate's answers to differ."""
    notes = [claim.note] if claim.note else []
    if _equivalence_record(inputs, candidate) is None:
        notes.append("answers not checked (no equivalence verdict saved)")
    elif differing := _differing_tests(inputs, candidate, claim.method):
        notes.append(
            f"**answers differ from the baseline's** in {claim.method} ({', '.join(differing)}): "
            "a speed for another answer"
        )
    return "; ".join(notes)


@dataclass(frozen=True)
class ClaimVerdict:
    claim: claims.Claim
    candidate: str
    measured: str
    verdict: str
    note: str


def judge_claims(inputs: Inputs) -> list[ClaimVerdict]:
    """Each claim for each of proposed and optimized (those measured), judged by bench.report.claims' rule."""
    verdicts = []
    for claim in claims.CLAIMS:
        for candidate in (c for c in CLAIM_CANDIDATES if c in inputs.candidates):
            intervals = _speedups_of(inputs, candidate, claim.operation)
            measured = "; ".join(
                f"{size:,}: {_interval_text(found)} {claims.judge_size(found, claim)}"
                if (found := intervals.get(size)) is not None
                else f"{size:,}: not measured"
                for size in claim.sizes
            )
            verdicts.append(
                ClaimVerdict(
                    claim, candidate, measured, claims.judge(intervals, claim), _claim_note(inputs, claim, candidate)
                )
            )
    return verdicts


def claims_section(verdicts: Sequence[ClaimVerdict]) -> str:
    rows = [
        (
            v.claim.said,
            claims.claimed_range(v.claim),
            f"{v.claim.operation} at {', '.join(f'{s:,}' for s in v.claim.sizes)}",
            v.candidate,
            v.measured,
            f"**{v.verdict}**",
            v.note,
        )
        for v in verdicts
    ]
    headers = ("claim (the proposal's words)", "means a speedup of", "benchmark", "candidate")
    headers += ("measured speedup [95% CI] by size", "verdict", "note")
    return "\n\n".join(
        [
            'Each percentage is read as the fall in time it states: "30-50% faster" is a speedup '
            '(baseline time / candidate time) of 1/(1-0.30) to 1/(1-0.50), "99% faster" is 100x. '
            + claims.VERDICT_RULES,
            _table(headers, rows),
        ]
    )


def deployment_section(inputs: Inputs) -> str:
    """The optimized store in this repository beside the same file deployed as the application's storage.py."""
    if DEPLOYED not in inputs.candidates or "optimized" not in inputs.candidates:
        return (
            "*Not measured in this run: `python -m bench --deployed` times the optimized store as the application "
            "deploys it (`--rebaseline` always does).*"
        )
    by_case = {(row.case, row.candidate): row for row in inputs.rows}
    rows = []
    for case in dict.fromkeys(row.case for row in inputs.rows):
        here, there = by_case.get((case, "optimized")), by_case.get((case, DEPLOYED))
        if here is None or there is None or here.speedup is None or there.speedup is None:
            continue
        overlap = here.speedup.low <= there.speedup.high and there.speedup.low <= here.speedup.high
        target = "" if here.target is None else f">={here.target:g}x: {target_verdict(there.speedup, here.target)}"
        rows.append(
            (
                case,
                _interval_text(here.speedup),
                _interval_text(there.speedup),
                "agree (intervals overlap)" if overlap else "**differ**",
                target,
            )
        )
    return (
        "The same `storage/optimized.py`, measured in this repository (`optimized`) and copied unchanged as "
        "`astraguard/hil/metrics/storage.py` beside the application's `latency.py` (`deployed`, fed that "
        "package's own collector class), in the same run. Speedups over the baseline with 95% intervals.\n\n"
        + _table(("benchmark", "in this repository", "deployed", "agreement", "target (deployed)"), rows)
    )


def equivalence_section(inputs: Inputs) -> str:
    if inputs.equivalence is None:
        return (
            f"**No equivalence verdicts saved** ({shown_path(inputs.results_dir / EQUIVALENCE_FILE)} and "
            f"{shown_path(inputs.fallback / EQUIVALENCE_FILE)} are missing): run `nox -s equivalence` to record them."
        )
    doc = inputs.equivalence.data
    parts = [
        f"From `{shown_path(inputs.equivalence.path)}`: the Hypothesis differential suite ({', '.join(doc['suite'])}, "
        f"profile `{doc['hypothesis_profile']}`) run once per candidate against the baseline on {doc['date']} "
        f"at commit `{doc['commit']}`. *identical* means every property passed: no input was found on which "
        "the candidate's answers, files, output or exceptions differ from the baseline's (beyond the "
        "candidate's declared DIVERGENCES)."
    ]
    rows = []
    for record in doc["candidates"]:
        tests = record["tests"]
        failed = _failures(record)
        rows.append(
            (
                record["candidate"],
                f"**{record['verdict']}**",
                _outcomes(tests),
                _where_different(failed),
                record["candidate_sha256"][:12],
            )
        )
    parts.append(_table(("candidate", "verdict", "properties", "differs in", "source sha256"), rows))
    for record in doc["candidates"]:
        failed = _failures(record)
        if not failed:
            continue
        # Folded: a dozen shrunk examples would push the rest of the page out of sight.
        shown = [f"`{test['test']}`:\n\n```\n{test['counterexample']}\n```" for test in failed]
        summary = f"The {len(failed)} counterexamples found for {record['candidate']} (click to open)"
        parts.append(f"<details><summary>{summary}</summary>\n\n" + "\n\n".join(shown) + "\n\n</details>")
    return "\n\n".join(parts)


def divergences_section() -> str:
    """The optimized store's declared divergences, read from storage.optimized.DIVERGENCES: listed nowhere else."""
    lines = [
        "Every deliberate difference of `optimized` from the baseline, as `storage.optimized.DIVERGENCES` declares "
        "it; each is pinned by a test that shows both behaviours (tests/test_divergences.py).",
        "",
    ]
    lines += [f"- `{name}`: {text}" for name, text in optimized.DIVERGENCES.items()]
    return "\n".join(lines)


def floors_section(inputs: Inputs) -> str:
    if inputs.floors is None:
        return (
            f"**No floors measured** ({shown_path(inputs.results_dir / FLOORS_FILE)} and "
            f"{shown_path(inputs.fallback / FLOORS_FILE)} are "
            "missing): run `nox -s floors` to measure them."
        )
    rows = []
    for operation in OPERATIONS:
        for size in operation.sizes:
            name = case_name(operation, size)
            in_bench = inputs.pyperf.get(REFERENCE, {}).get(name)
            for floor in (f for f in FLOORS if f.operation == operation.name):
                measured = inputs.floors.data.get(floor_name(floor, size))
                if measured is None:
                    continue
                beside = inputs.floors.data.get(reference_name(floor, size))
                rows.append(
                    (
                        name,
                        seconds_text(in_bench.median if in_bench else None),
                        seconds_text(beside.median if beside else None),
                        f"{floor.name}: {floor.what}",
                        seconds_text(measured.median),
                        _distance(measured, beside),
                    )
                )
    headers = (
        "benchmark",
        f"{REFERENCE} (bench run)",
        f"{REFERENCE} (floors run)",
        "floor: the least work for the same answer",
        "floor time",
        f"{REFERENCE} / floor",
    )
    return "\n\n".join(
        [
            f"The floors are pyperf benchmarks of the least work each answer needs (`bench/floors.py`), each checked "
            "to produce the operation's real answer before it is timed, read from "
            f"`{shown_path(inputs.floors.path)}`. The "
            f"floors run times the {REFERENCE} store too, and the last column is its time over the floor's "
            "(the median of per-process ratios, processes paired in run order, with its bootstrap 95% interval; "
            "the floor and the store ran one after the other, not interleaved). Above 1x is what the store spends "
            "beyond the floor (atomic writes, "
            "checks, generality); below 1x means the store does less work than that floor does.",
            _table(headers, rows),
        ]
    )


def _distance(floor: Measured, store: Measured | None) -> str:
    """store / floor with its interval; a median ratio alone where either has a single process."""
    if store is None:
        return "-"
    pairs = min(len(floor.process_medians), len(store.process_medians))
    if pairs < 2:
        return f"{store.median / floor.median:.2f}x (1 process, no interval)"
    r = ratio_interval(floor.process_medians[:pairs], store.process_medians[:pairs])
    return f"{r.estimate:.2f}x [{r.low:.2f}, {r.high:.2f}]"


def _suite_provenance(path: Path) -> tuple[dict[str, Any], list[str]]:
    """A pyperf file's common metadata, and the dates of its runs."""
    suite = pyperf.BenchmarkSuite.load(str(path))
    dates = sorted(
        str(run.get_metadata()["date"])
        for bench in suite.get_benchmarks()
        for run in bench.get_runs()
        if "date" in run.get_metadata()
    )
    return suite.get_metadata(), dates


def _current(candidate: str, recorded: str | None) -> str:
    if recorded is None:
        return "not recorded"
    if candidate not in CANDIDATES:
        return f"`{recorded[:12]}`"
    same = source_sha256(candidate) == recorded
    return f"`{recorded[:12]}` ({'the file as it is now' if same else '**differs from the file now**'})"


def provenance_section(inputs: Inputs) -> str:
    base_meta, _ = _suite_provenance(inputs.pyperf_files[BASELINE])
    rows = [
        (
            "CPU",
            f"{base_meta.get('cpu_model_name', '?')}, {base_meta.get('cpu_count', '?')} cores, "
            f"{base_meta.get('cpu_freq', '?')}",
        ),
        ("platform", str(base_meta.get("platform", "?"))),
        ("Python", f"{base_meta.get('python_implementation', '?')} {base_meta.get('python_version', '?')}"),
    ]
    if inputs.pytest_file is not None:
        saved = json.loads(inputs.pytest_file.read_text())
        commit = saved.get("commit_info", {})
        dirty = " with uncommitted changes" if commit.get("dirty") else ""
        # pyperf records no commit: pytest-benchmark's is this run's only if both suites ran in one bench run.
        runs = {bench["extra_info"].get("bench_run") for bench in saved["benchmarks"]}
        other = "" if base_meta.get("bench_run") in runs else " (**of another bench run than pyperf's**)"
        rows.append(("commit", f"`{commit.get('id', '?')}` ({commit.get('branch', '?')}){dirty}{other}"))
        rows.append(("pytest-benchmark run", f"`{shown_path(inputs.pytest_file)}`, {saved.get('datetime', '?')}"))
    else:
        rows.append(("commit", "not recorded (no pytest-benchmark run saved)"))
    rows.append(("baseline sha256", _current(BASELINE, base_meta.get("baseline_sha256"))))
    for candidate in inputs.candidates:
        meta, dates = _suite_provenance(inputs.pyperf_files[candidate])
        span = f"{dates[0]} to {dates[-1]}" if dates else "no dates"
        rows.append(
            (
                f"{candidate}",
                f"`{shown_path(inputs.pyperf_files[candidate])}`, bench run `{meta.get('bench_run', '?')}`, {span}; "
                f"source sha256 {_current(candidate, meta.get('candidate_sha256'))}",
            )
        )
    if inputs.left_out:
        rows.append(("left out", f"{', '.join(inputs.left_out)}: from another bench run than the baseline's"))
    seed, version = base_meta.get("fixture_seed", "?"), base_meta.get("fixture_version", "?")
    rows.append(("fixtures", f"seed {seed}, format {version}"))
    if inputs.floors is not None:
        meta, dates = _suite_provenance(inputs.floors.path)
        fixtures = (meta.get("fixture_seed", "?"), meta.get("fixture_version", "?"))
        other = " (**other fixtures than the benchmarks'**)" if fixtures != (seed, version) else ""
        rows.append(
            (
                "floors",
                f"`{shown_path(inputs.floors.path)}`, {dates[0] if dates else '?'} to {dates[-1] if dates else '?'}, "
                f"fixture seed {fixtures[0]}, format {fixtures[1]}{other}",
            )
        )
    if inputs.equivalence is not None:
        doc = inputs.equivalence.data
        where = shown_path(inputs.equivalence.path)
        rows.append(("equivalence", f"`{where}`, {doc['date']}, commit `{doc['commit']}`"))
    return _table(("what", "value"), rows)


def exponents_section(curves: Sequence[plots.Curve]) -> str:
    if not curves:
        return ""
    rows = [
        (
            curve.operation,
            curve.candidate,
            f"{curve.sizes[0]:,} to {curve.sizes[-1]:,}",
            f"{curve.exponent:.2f}" if curve.exponent is not None else "-",
            f"{curve.seconds[-1] / curve.seconds[0]:.3g}x [{curve.lowest[-1] / curve.highest[0]:.3g}, "
            f"{curve.highest[-1] / curve.lowest[0]:.3g}] for {curve.sizes[-1] / curve.sizes[0]:.3g}x the size",
        )
        for curve in curves
    ]
    legend = (
        "The exponent is the least-squares slope of log median time on log size. Time grows: the ratio of the "
        "medians at the largest and smallest size, in brackets the widest ratio the worker processes' spread "
        "allows (fastest against slowest)."
    )
    return _table(("operation", "candidate", "sizes", "scaling exponent", "time grows"), rows) + "\n\n" + legend


def closing_note(verdicts: Sequence[ClaimVerdict], inputs: Inputs) -> str:
    lines = []
    roles = {"proposed": "the change that makes these claims", REFERENCE: "the same claims, held against our store"}
    for candidate in (c for c in CLAIM_CANDIDATES if c in inputs.candidates):
        mine = [v for v in verdicts if v.candidate == candidate]
        counts = claims.tally([v.verdict for v in mine])
        summary = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
        lines.append(f"- **{candidate}**, {roles.get(candidate, 'a candidate')} ({summary}):")
        for verdict in (claims.HOLDS, claims.PARTLY, claims.FAILS, claims.UNMEASURED):
            said = [
                v.claim.said + (DIFFERING_MARK if _differing_tests(inputs, candidate, v.claim.method) else "")
                for v in mine
                if v.verdict == verdict
            ]
            if said:
                lines.append(f"  - {verdict}: " + "; ".join(said))
        record = _equivalence_record(inputs, candidate)
        if record is not None:
            lines.append(f"  - equivalence to the baseline: {record['verdict']}")
    return "\n".join(lines)


def headline(verdicts: Sequence[ClaimVerdict], inputs: Inputs) -> str:
    """Per candidate, one line: where it is faster or slower (by the interval), its equivalence, its claims."""
    lines = []
    for candidate in (c for c in inputs.candidates if c != BASELINE):
        mine = [row for row in inputs.rows if row.candidate == candidate and row.speedup is not None]
        faster = [row.case for row in mine if row.speedup.low > 1]
        slower = [row.case for row in mine if row.speedup.high < 1]
        text = f"- **{candidate}**: faster than the baseline in {len(faster)} of {len(mine)} benchmarks"
        text += f" (95% interval above 1x), slower in {len(slower)}" + (f" ({', '.join(slower)})" if slower else "")
        record = _equivalence_record(inputs, candidate)
        if record is not None:
            where = [_where_different(_failures(record))] if _failures(record) else []
            text += f"; equivalence to the baseline: {record['verdict']}" + (
                f" (in {', '.join(where)})" if where else ""
            )
        counts = claims.tally([v.verdict for v in verdicts if v.candidate == candidate])
        if counts:
            text += "; the proposal's claims: " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
        lines.append(text + ".")
    return "\n".join(lines)


def render_report(
    inputs: Inputs,
    curves: Sequence[plots.Curve],
    change_points: Sequence[dict[str, Any]],
    figures: dict[str, Path],
    output: Path,
) -> str:
    """The Markdown of the whole report; figure links are relative to `output`'s folder."""
    verdicts = judge_claims(inputs)

    def image(role: str, alt: str) -> str:
        if role not in figures:
            return f"*No {role} figure: {MISSING_FIGURE[role]}.*"
        return f"![{alt}]({figures[role].relative_to(output.parent).as_posix()})"

    sections = [
        "# Metrics store: speed, scaling, memory, equivalence and the proposal's claims",
        f"Generated by `python -m bench report {shown_path(inputs.results_dir)}` from saved result files only "
        "(it never runs a benchmark); every figure below is read from the files listed under Provenance.",
        "## In short\n\n" + headline(verdicts, inputs),
        "## Speed and memory\n\n"
        "Per operation, size and candidate: pyperf's median time per call, the speedup over the baseline "
        "measured in the same run (baseline time / candidate time: above 1 is faster) with its 95% bootstrap "
        "interval over paired worker processes, the store's own target, pytest-benchmark's median as a "
        "cross-check, and the peak memory of one call (tracemalloc).",
        render(inputs.rows),
        image("speedups", "Speedup over the baseline per benchmark, with 95% intervals"),
        "## Scaling\n\n"
        "Time against size, log-log; the slope of the least-squares line through the medians is the scaling "
        "exponent (1: time proportional to size, 0: flat).",
        image("scaling", "Median time against size, log-log, per candidate"),
        exponents_section(curves),
        "## Peak memory",
        image("memory", "Peak memory of one call per benchmark and candidate"),
        "## Claimed against measured\n\n" + claims_section(verdicts),
        "## In the application's layout\n\n" + deployment_section(inputs),
        "## Equivalence\n\n" + equivalence_section(inputs),
        "## Deliberate divergences\n\n" + divergences_section(),
        "## History across commits\n\n" + history_section(inputs, change_points),
        image("history", "Store time / baseline time per commit, per benchmark, with change points")
        if inputs.history
        else "",
        "## Distance to the floor\n\n" + floors_section(inputs),
        "## Provenance\n\n" + provenance_section(inputs),
        "## Closing note: which of the proposal's claims hold\n\n" + closing_note(verdicts, inputs),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def write_report(results_dir: Path, output: Path | None = None, fallback: Path = COMMITTED) -> Path:
    """Reads results_dir, writes output (default results_dir/REPORT.md) and its figures beside it."""
    output = output or results_dir / REPORT_NAME
    inputs = load(results_dir, fallback)
    curves = scaling_curves(inputs)
    panels, change_points = history_panels(inputs)  # E-Divisive's permutation tests, run once for both uses
    figures = write_figures(inputs, curves, panels, output.parent / FIGURES_DIR)
    output.write_text(render_report(inputs, curves, change_points, figures, output))
    return output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", nargs="?", type=Path, default=COMMITTED, help="default: results/")
    parser.add_argument("--output", type=Path, help="the Markdown file (default: RESULTS_DIR/REPORT.md)")


def run(args: argparse.Namespace) -> ExitCode:
    written = write_report(args.results_dir, args.output)  # a stale control or no baseline run: a UsageError
    print(f"report written to {written} (figures in {written.parent / FIGURES_DIR})")
    return ExitCode.OK
