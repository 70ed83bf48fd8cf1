"""The one table `python -m bench` ends with, built from saved result files only.

    python -m bench summary                 # the latest run, results/latest/
    python -m bench summary results         # the committed runs

Per case and candidate: pyperf's median time, the speedup over the baseline with its 95% interval
(processes paired in run order, see bench.model.stats), the target and whether it is met, the
pytest-benchmark median and speedup as a cross-check, and the peak memory of one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, UsageError
from bench.model import results
from bench.model.operations import MEMORY_TARGET_RATIO, case_name, cases
from bench.model.results import (
    Measured,
    Results,
    latest_pytest_benchmark,
    load_pyperf,
    load_pytest_benchmark,
    shown,
)
from bench.model.stats import RatioInterval, ratio_interval, verdict
from bench.report.publish import Row as PublishedRow
from bench.report.publish import Summary, publish
from bench.runners.equivalence import differing_operations
from bench.stores.candidates import BASELINE
from bench.stores.deployment import DEPLOYED

EQUIVALENCE_FILE: Final = results.EQUIVALENCE.path.name  # saved beside a run's pyperf/ and pytest-benchmark/


@dataclass(frozen=True)
class Row:
    case: str
    candidate: str
    pyperf: Measured | None
    speedup: RatioInterval | None
    target: float | None
    pytest: Measured | None
    pytest_speedup: float | None
    peak_memory: int | None
    memory_ratio: float | None
    answers_differ: bool = False  # its store method answers otherwise than the frozen original: no speed-up


def differing_by_candidate(results_dir: Path) -> dict[str, set[str]]:
    """Each candidate's operations whose answers differ, from the equivalence record saved with a run (none: {})."""
    path = results_dir / EQUIVALENCE_FILE
    if not path.is_file():
        return {}
    document = results.EQUIVALENCE.load(path)
    return {record["candidate"]: set(differing_operations(record["tests"])) for record in document["candidates"]}


def _peak(*measured: Measured | None) -> int | None:
    """pyperf's figure (the median over its processes), else pytest-benchmark's."""
    return next((m.peak_memory for m in measured if m is not None and m.peak_memory is not None), None)


def _speedup(candidate: Measured | None, baseline: Measured | None) -> RatioInterval | None:
    if candidate is None or baseline is None or candidate.bench_run != baseline.bench_run:
        return None  # processes of different runs did not run side by side: no pairs to form
    pairs = min(len(candidate.process_medians), len(baseline.process_medians))
    if pairs == 0:
        return None
    return ratio_interval(candidate.process_medians[:pairs], baseline.process_medians[:pairs])


def build_rows(
    pyperf_results: Results,
    pytest_results: Results,
    candidates: Sequence[str],
    differing: Mapping[str, set[str]] | None = None,
) -> list[Row]:
    """A row per (case, candidate) found in either tool, cases in table order, candidates in the order given;
    `differing`: each candidate's operations whose answers differ (differing_by_candidate)."""
    rows = []
    for operation, size in cases(large=True):  # a row only where a run measured the case
        name = case_name(operation, size)
        base_pyperf = pyperf_results.get(BASELINE, {}).get(name)
        base_pytest = pytest_results.get(BASELINE, {}).get(name)
        base_peak = _peak(base_pyperf, base_pytest)
        for candidate in candidates:
            mine_pyperf = pyperf_results.get(candidate, {}).get(name)
            mine_pytest = pytest_results.get(candidate, {}).get(name)
            if mine_pyperf is None and mine_pytest is None:
                continue
            peak = _peak(mine_pyperf, mine_pytest)
            rows.append(
                Row(
                    case=name,
                    candidate=candidate,
                    pyperf=mine_pyperf,
                    speedup=_speedup(mine_pyperf, base_pyperf),
                    target=operation.target_speedups.get(size) if candidate != BASELINE else None,
                    pytest=mine_pytest,
                    pytest_speedup=base_pytest.median / mine_pytest.median if mine_pytest and base_pytest else None,
                    peak_memory=peak,
                    memory_ratio=peak / base_peak if peak is not None and base_peak else None,
                    answers_differ=operation.store_method in (differing or {}).get(candidate, set()),
                )
            )
    return rows


def seconds_text(value: float | None) -> str:
    """A time in s, ms, us or ns, to 3 significant figures; '-' for none."""
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def _bytes(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value / 1024:,.1f} KiB"


def no_difference(interval: RatioInterval) -> bool:
    """The interval holds 1: this run cannot tell the two apart (an A/A comparison reads so)."""
    return interval.low <= 1 <= interval.high


def speedup_text(interval: RatioInterval) -> str:
    """A speed-up with its interval; one whose interval holds 1 reads "no difference", with the interval."""
    bounds = f"[{interval.low:.2f}, {interval.high:.2f}]"
    return f"no difference {bounds}" if no_difference(interval) else f"{interval.estimate:.2f}x {bounds}"


def _interval(row: Row) -> str:
    if row.candidate == BASELINE:
        return "1 (reference)"
    if row.speedup is None:
        return "-"
    return speedup_text(row.speedup)


def cross_check_text(row: Row) -> str:
    """pytest-benchmark's ratio: one process, the stores one after another, so no interval and no finding."""
    if row.candidate == BASELINE or row.pytest_speedup is None:
        return "-"
    return f"{row.pytest_speedup:.2f}x (1 process)"


def _target(row: Row) -> str:
    if row.answers_differ:
        return "answers differ"
    if row.target is None or row.speedup is None:
        return ""
    return f">={row.target:g}x {verdict(row.speedup, row.target)}"


def _memory(row: Row) -> str:
    if row.memory_ratio is None or row.candidate == BASELINE:
        return ""
    return f"{row.memory_ratio:.2f}x " + ("ok" if row.memory_ratio <= MEMORY_TARGET_RATIO else "higher")


HEADERS: Final = (
    "operation[size]",
    "candidate",
    "median (pyperf)",
    "speedup [95% CI]",
    "target",
    "median (pytest-bm)",
    "cross-check, not a finding (pytest-bm)",
    "peak memory",
    "memory vs baseline",
)


def render(rows: Sequence[Row]) -> str:
    """A Markdown table (aligned, so it reads in a terminal too), with the legend under it."""
    cells = [
        (
            row.case,
            row.candidate,
            seconds_text(row.pyperf.median if row.pyperf else None),
            _interval(row),
            _target(row),
            seconds_text(row.pytest.median if row.pytest else None),
            cross_check_text(row),
            _bytes(row.peak_memory),
            _memory(row),
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in (HEADERS, *cells)) for i in range(len(HEADERS))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    legend = (
        "speedup = baseline time / candidate time (above 1: faster), the median of per-process ratios "
        "with a bootstrap 95% interval; 'no difference' where that interval holds 1;\n"
        "cross-check: pytest-benchmark's median ratio from one process, the stores timed one after another: no "
        "interval, so it is a cross-check of the pyperf figure and never a finding of its own;\n"
        "target: met/missed by the median, '?' where the interval reaches across the target; 'answers differ' where "
        "the candidate's method answers otherwise than the frozen original (its equivalence record): no speed-up;\n"
        f"peak memory: tracemalloc, one call; memory target: at most {MEMORY_TARGET_RATIO:g}x the baseline's."
    )
    return "\n".join([line(HEADERS), line(["-" * w for w in widths]), *map(line, cells), "", legend])


# The stores this project ships: a missed target of theirs is a failure; the proposal is measured beside them.
SHIPPED: Final = ("optimized", DEPLOYED)


def bench_summary(rows: Sequence[Row], results_dir: Path, bench_run: str | None, report: str) -> Summary:
    """The main job's summary: each candidate's speed-up with its interval, and the shipped stores' targets."""
    published, shipped_targets, missed = [], 0, []
    for row in rows:
        if row.candidate == BASELINE or row.speedup is None:
            continue
        s = row.speedup
        if row.answers_differ:
            met = None
            outcome = "answers differ"
            if row.candidate in SHIPPED:
                missed.append(f"{row.case} ({row.candidate}: answers differ)")
        elif row.target is not None:
            met = verdict(s, row.target)
            outcome = f">={row.target:g}x {met}"
            if row.candidate in SHIPPED:
                shipped_targets += 1
                if not met.met:
                    missed.append(f"{row.case} ({row.candidate})")
        else:
            met = None
            outcome = "no difference" if no_difference(s) else ("faster" if s.estimate > 1 else "slower")
        published.append(
            PublishedRow.of(
                row.case,
                f"{row.candidate}: speed-up over {BASELINE}",
                s,
                outcome,
                fails=row.candidate in SHIPPED and (row.answers_differ or (met is not None and not met.met)),
                note=f"{s.pairs} process pairs"
                + (f"; peak memory {row.memory_ratio:.2f}x the baseline's" if row.memory_ratio is not None else ""),
            )
        )
    headline = f"{shipped_targets - len(missed)} of {shipped_targets} targets of the shipped stores met" + (
        f"; missed: {', '.join(missed)}" if missed else ""
    )
    cross_checks = [
        {"benchmark": r.case, "candidate": r.candidate, "estimate": r.pytest_speedup, "low": None, "high": None}
        for r in rows
        if r.candidate != BASELINE and r.pytest_speedup is not None
    ]
    return Summary(
        kind="bench",
        title="Benchmarks",
        headline=headline,
        passed=not missed,
        rows=published,
        report=report,
        details={
            "results": shown(results_dir),
            "bench_run": bench_run,
            "candidates": list(dict.fromkeys(r.candidate for r in rows)),
            "cross_checks": cross_checks,
        },
    )


def collect(pyperf_files: Mapping[str, Path], pytest_file: Path | None) -> tuple[Results, Results]:
    """Loads the named candidates' pyperf files and one pytest-benchmark file."""
    pyperf_results = {candidate: load_pyperf(path) for candidate, path in pyperf_files.items()}
    pytest_results = load_pytest_benchmark(pytest_file) if pytest_file is not None else {}
    return pyperf_results, pytest_results


def rows_for(results_dir: Path, candidates: Sequence[str] | None = None) -> list[Row]:
    """The rows of the runs saved under results_dir (pyperf/*.json and the newest pytest-benchmark run)."""
    pyperf_dir = results_dir / "pyperf"
    files = {path.stem: path for path in sorted(pyperf_dir.glob("*.json"))}
    if candidates is not None:
        files = {name: files[name] for name in candidates if name in files}
    pytest_file = latest_pytest_benchmark(results_dir / "pytest-benchmark")
    if not files and pytest_file is None:
        raise UsageError(f"no pyperf or pytest-benchmark results under {results_dir}")
    pyperf_results, pytest_results = collect(files, pytest_file)
    found = list(dict.fromkeys([*pyperf_results, *pytest_results]))
    order = candidates or [BASELINE, *sorted(name for name in found if name != BASELINE)]
    return build_rows(pyperf_results, pytest_results, order, differing_by_candidate(results_dir))


def show(
    results_dir: Path, candidates: Sequence[str] | None, destinations: tuple[Path | None, Path | None]
) -> ExitCode:
    """The main job's table from the result files in results_dir, printed and published where asked."""
    rows = rows_for(results_dir, candidates)
    table = render(rows)
    print(table)
    publish(bench_summary(rows, results_dir, None, table), *destinations)
    return ExitCode.OK
