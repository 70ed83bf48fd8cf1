"""The one table `python -m bench` ends with, built from saved result files only.

    python -m bench summary                 # the latest run, results/latest/
    python -m bench summary results         # the committed runs

Per case and candidate: pyperf's median time, the speedup over the baseline with its 95% interval
(processes paired in run order, see bench.model.stats), the target and whether it is met, the
pytest-benchmark median and speedup as a cross-check, and the peak memory of one call.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, UsageError
from bench.model.candidates import BASELINE
from bench.model.operations import MEMORY_TARGET_RATIO, case_name, cases
from bench.model.results import LATEST, Measured, Results, latest_pytest_benchmark, load_pyperf, load_pytest_benchmark
from bench.model.stats import RatioInterval, ratio_interval, verdict

HELP: Final = "The main job's table again, from the result files saved in a folder (never benchmarks)."


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


def build_rows(pyperf_results: Results, pytest_results: Results, candidates: Sequence[str]) -> list[Row]:
    """A row per (case, candidate) found in either tool, cases in table order, candidates in the order given."""
    rows = []
    for operation, size in cases():
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


def _interval(row: Row) -> str:
    if row.candidate == BASELINE:
        return "1 (reference)"
    if row.speedup is None:
        return "-"
    s = row.speedup
    return f"{s.estimate:.2f}x [{s.low:.2f}, {s.high:.2f}]"


def _target(row: Row) -> str:
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
    "speedup (pytest-bm)",
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
            f"{row.pytest_speedup:.2f}x" if row.pytest_speedup is not None else "-",
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
        "with a bootstrap 95% interval;\n"
        "target: met/missed by the median, '?' where the interval reaches across the target; "
        f"peak memory: tracemalloc, one call; memory target: at most {MEMORY_TARGET_RATIO:g}x the baseline's."
    )
    return "\n".join([line(HEADERS), line(["-" * w for w in widths]), *map(line, cells), "", legend])


def collect(pyperf_files: Mapping[str, Path], pytest_file: Path | None) -> tuple[Results, Results]:
    """Loads the named candidates' pyperf files and one pytest-benchmark file."""
    pyperf_results = {candidate: load_pyperf(path) for candidate, path in pyperf_files.items()}
    pytest_results = load_pytest_benchmark(pytest_file) if pytest_file is not None else {}
    return pyperf_results, pytest_results


def table_for(results_dir: Path, candidates: Sequence[str] | None = None) -> str:
    """The table of the runs saved under results_dir (pyperf/*.json and the newest pytest-benchmark run)."""
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
    return render(build_rows(pyperf_results, pytest_results, order))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results_dir", nargs="?", type=Path, default=LATEST, help="default: results/latest")
    parser.add_argument("--candidates", help="comma-separated labels to show, in this order (default: all)")


def run(args: argparse.Namespace) -> ExitCode:
    print(table_for(args.results_dir, args.candidates.split(",") if args.candidates else None))
    return ExitCode.OK
