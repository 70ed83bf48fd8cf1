"""The report's sections on what was measured: the distance to the floors, the scaling exponents, and the
provenance of every file read."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.model import results
from bench.model.floors import FLOORS, REFERENCE, floor_name, reference_name
from bench.model.operations import OPERATIONS, case_name, operation_sizes
from bench.model.results import Measured
from bench.model.results import shown as shown_path
from bench.model.stats import ratio_interval, scaling_exponent
from bench.report import plots
from bench.report.inputs import FLOORS_FILE, Inputs
from bench.report.sections import _table
from bench.report.summary import seconds_text
from bench.stores.candidates import BASELINE, source_sha256
from storage import CANDIDATES


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
            "The floors are pyperf benchmarks of the least work each answer needs (`bench/model/floors.py`), "
            "each checked to produce the operation's real answer before it is timed, read from "
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
    suite = results.read_pyperf(path)
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
        saved = results.read_pytest_benchmark(inputs.pytest_file)
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
