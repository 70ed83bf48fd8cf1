"""Instruction counts as a gate: saved counts with a tolerance, both sides counted in one run, and the
`instructions` command (`python -m bench instructions`).

The counting itself (callgrind, strace, the counted worker) is bench.runners.instructions.
"""

from __future__ import annotations

import hashlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import storage
from bench.errors import ExitCode, UsageError
from bench.gate.planted import method_timed_by, planted_work_name
from bench.model import results
from bench.model.fixtures import FORMAT_VERSION, Fixtures
from bench.model.operations import build_fixtures, find_case
from bench.model.verdict import Verdict
from bench.rule import count_verdict
from bench.runners.instructions import (
    DEFAULT_CALLS,
    HASH_SEED,
    Count,
    count,
    measure_all,
    require,
    selected_names,
    syscalls_text,
)
from bench.stores.candidates import resolve as resolve_candidate

SAVED_COUNTS: Final = results.SAVED_COUNTS.path
CALIBRATION: Final = results.COUNT_CALIBRATION.path
# Large enough that 2% exceeds the planted wrapper's own fixed cost (about 14k instructions per call).
CALIBRATION_BENCHMARK: Final = "get_recent_runs[1000]"
CALIBRATION_REPEATS: Final = 5
PLANTED_GROWTH: Final = 0.02  # the extra work the calibration plants: +2%, below what wall clock resolves
# A planted count is accepted between its share and this many times it, found in at most PLANTED_PROBES counts.
PLANTED_BAND: Final = 1.3
PLANTED_PROBES: Final = 6
REPEATS_FOR_TOLERANCE: Final = 3
# The saved tolerance is this many times the largest relative spread of the repeats. Counts repeat
# far more closely than wall-clock ratios (bench.gate.check's own factor is 2.0 over a larger spread).
SAVED_COUNT_TOLERANCE_PER_SPREAD: Final = 4.0


# --- saved counts and the gate ---------------------------------------------------------------------


def provenance(seed: int) -> dict[str, object]:
    """Counts are only comparable for the same interpreter build, control and fixtures."""
    return {
        "python": sys.version,
        "python_sha256": hashlib.sha256(Path(os.path.realpath(sys.executable)).read_bytes()).hexdigest(),
        "machine": platform.machine(),
        "baseline_sha256": hashlib.sha256(Path(storage.baseline.__file__).read_bytes()).hexdigest(),
        "fixture_seed": seed,
        "fixture_version": FORMAT_VERSION,
        "hash_seed": HASH_SEED,
    }


def save(path: Path, repeats: list[dict[str, dict[str, Count]]], prov: dict[str, object], calls: int) -> str:
    """Median counts of the repeats, and per benchmark a tolerance from their spread."""
    counts: dict[str, dict[str, Any]] = {}
    document = {"format": results.SAVED_COUNTS.format, "provenance": prov, "calls": calls, "counts": counts}
    lines = []
    for name, per_candidate in repeats[0].items():
        entry = {}
        for candidate in per_candidate:
            values = sorted(run[name][candidate].instructions for run in repeats)
            median = statistics.median(values)
            spread = max(abs(v / median - 1) for v in values)
            entry[candidate] = {
                "instructions_per_call": median,
                "syscalls_per_call": repeats[0][name][candidate].syscalls,
                "repeat_instructions": values,
                "spread": spread,
                "tolerance": SAVED_COUNT_TOLERANCE_PER_SPREAD * spread,
            }
            lines.append(f"{name} {candidate}: {median:,.0f} instructions/call, spread {spread:.4%}")
        counts[name] = entry
    results.write_json_atomically(path, document)
    return "\n".join(lines)


def load(path: Path, prov: dict[str, object]) -> dict[str, dict[str, dict[str, float]]]:
    document = results.SAVED_COUNTS.load(path)  # absent, unparsable or another format: a UsageError
    for key, value in prov.items():
        if document["provenance"].get(key) != value:
            raise UsageError(
                f"{path}: instruction counts provenance mismatch on {key}: saved {document['provenance'].get(key)!r}, "
                f"now {value!r}; counts depend on the exact interpreter build: re-save them on this machine"
            )
    return document["counts"]


def check(
    saved: dict[str, dict[str, dict[str, float]]], now: dict[str, dict[str, Count]], candidate: str
) -> list[tuple[bool, str]]:
    """(failed, line) per benchmark: a count that grew beyond its saved tolerance fails."""
    results = []
    for name, per_candidate in now.items():
        measured = per_candidate[candidate].instructions
        # A candidate without saved counts of its own (a planted copy, an outside store) answers to optimized's.
        entry = saved.get(name, {}).get(candidate if candidate in saved.get(name, {}) else "optimized")
        if entry is None:
            results.append((True, f"UNSAVED    {name}: {measured:,.0f} instructions/call, no saved count"))
            continue
        limit = entry["instructions_per_call"] * (1 + entry["tolerance"])
        growth = measured / entry["instructions_per_call"] - 1
        judged = count_verdict(measured, entry["instructions_per_call"], relative=entry["tolerance"])
        failed = judged is Verdict.REGRESSED
        verdict = "REGRESSED" if failed else "UNCHANGED"
        syscalls = per_candidate[candidate].syscalls
        results.append(
            (
                failed,
                f"{verdict:<11}{name}: {measured:,.0f} instructions/call ({growth:+.3%}), "
                f"saved {entry['instructions_per_call']:,.0f} (tolerance {entry['tolerance']:.3%}, "
                f"regression above {limit:,.0f}); syscalls/call {syscalls_text(syscalls)}",
            )
        )
    return results


def planted_iterations(base: float, growth: float, count_with: Callable[[int], float]) -> tuple[int, dict[int, float]]:
    """(iterations, probes): planted loop iterations whose count lies in [growth, PLANTED_BAND * growth] above `base`.

    Probed where it lands, not extrapolated: a fit from thousands of iterations missed ~20 by 2x to 25x (small
    ints, quickening and the loop's set-up do not scale). A secant search on the bracket around the band (regula
    falsi), kept inside it; `count_with(iterations)` is the count per call. If no probe lands in
    the band within PLANTED_PROBES, the probe nearest the goal from above is taken (the caller shows its growth).
    """
    low, high = base * (1 + growth), base * (1 + PLANTED_BAND * growth)
    goal = (low + high) / 2
    probes: dict[int, float] = {0: base}
    iterations = 16
    for _ in range(PLANTED_PROBES):
        probes[iterations] = count_with(iterations)
        if low <= probes[iterations] <= high:
            return iterations, probes
        below = max((i for i, c in probes.items() if c < low), default=0)
        above = min((i for i, c in probes.items() if c > high), default=None)
        # The secant through the bracket's ends (regula falsi), or through the two largest probes while all lie
        # below: never through two neighbouring counts, whose difference is the count's own noise (a save of
        # 32 million instructions moves by thousands between runs, one iteration adds 236).
        ends = (below, above) if above is not None else tuple(sorted(probes)[-2:])
        slope = (probes[ends[1]] - probes[ends[0]]) / (ends[1] - ends[0])
        guess = round(ends[0] + (goal - probes[ends[0]]) / slope) if slope > 0 else 2 * max(probes)
        ceiling = above - 1 if above is not None else max(guess, below + 1)
        if ceiling <= below:
            break  # no integer between the probe below the band and the one above it
        iterations = min(max(guess, below + 1), ceiling)
        if iterations in probes:
            break
    over = [i for i, c in probes.items() if c >= low]
    return (min(over, key=probes.__getitem__) if over else max(probes)), probes


def calibrate(name: str, calls: int, seed: int, saved_path: Path, progress: Callable[[str], None]) -> dict:
    """Repeat the count to show its spread; plant +2% extra work and show the saved tolerance catches it."""
    operation, _ = find_case(name)
    method = method_timed_by(operation.name)
    started = time.monotonic()
    build_fixtures(Fixtures(seed=seed), [find_case(name)])
    repeats: list[Count] = []
    for i in range(CALIBRATION_REPEATS):
        progress(f"[{i + 1}/{CALIBRATION_REPEATS}] counting {name} for optimized")
        repeats.append(count(name, "optimized", calls, seed))
    base = statistics.median(r.instructions for r in repeats)

    counted: dict[int, Count] = {}

    def count_planted(iterations: int) -> float:
        progress(f"counting {iterations} iterations of planted work on {name}")
        counted[iterations] = count(
            name, f"bench.gate.planted:{planted_work_name('optimized', method, iterations)}", calls, seed
        )
        return counted[iterations].instructions

    iterations, probes = planted_iterations(base, PLANTED_GROWTH, count_planted)
    planted_count = counted[iterations]  # the chosen probe is itself the planted count
    saved = load(saved_path, provenance(seed))
    verdicts = {
        "unchanged": check(saved, {name: {"optimized": repeats[-1]}}, "optimized")[0],
        "planted": check(saved, {name: {"optimized": planted_count}}, "optimized")[0],
    }
    result = {
        "benchmark": name,
        "calls_per_run": calls,
        "repeat_instructions": [r.instructions for r in repeats],
        "spread": max(abs(r.instructions / base - 1) for r in repeats),
        "planted_probes": probes,
        "saved_tolerance": saved[name]["optimized"]["tolerance"],
        "planted_iterations": iterations,
        "planted_growth": planted_count.instructions / base - 1,
        "unchanged_fails": verdicts["unchanged"][0],
        "planted_fails": verdicts["planted"][0],
        "lines": [verdicts["unchanged"][1], verdicts["planted"][1]],
        "seconds": time.monotonic() - started,
    }
    CALIBRATION.parent.mkdir(parents=True, exist_ok=True)
    results.write_json_atomically(CALIBRATION, result)
    return result


def table(counts: dict[str, dict[str, Count]]) -> str:
    rows = [
        "| benchmark | store | instructions/call | vs baseline | syscalls/call |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, per_candidate in counts.items():
        base = per_candidate.get("baseline")
        for candidate, c in per_candidate.items():
            ratio = f"{c.instructions / base.instructions:.3f}" if base else "-"
            rows.append(f"| `{name}` | {candidate} | {c.instructions:,.0f} | {ratio} | {syscalls_text(c.syscalls)} |")
    return "\n".join(rows)


def count_and_print(candidates: Sequence[str], names: Sequence[str], seed: int, calls: int = DEFAULT_CALLS) -> ExitCode:
    """The counts of every candidate, as a table: what `python -m bench --instructions` prints."""
    require("valgrind")
    started = time.monotonic()
    print(table(measure_all(names, candidates, calls, seed)))
    print(f"counted in {time.monotonic() - started:.0f} s")
    return ExitCode.OK


def count_instructions(
    *, candidates: str | None, quick: bool, only: Sequence[str] | None, calls: int, seed: int, save_to: Path | None
) -> ExitCode:
    """Counts per call of each candidate, printed; with save_to, repeated and saved there with their tolerance."""
    chosen = [c.strip() for c in (candidates or "baseline,optimized").split(",") if c.strip()]
    for candidate in chosen:
        resolve_candidate(candidate)
    names = selected_names(quick, only)
    if save_to is None:
        return count_and_print(chosen, names, seed, calls)
    require("valgrind")
    started = time.monotonic()
    repeats = [measure_all(names, chosen, calls, seed) for _ in range(REPEATS_FOR_TOLERANCE)]
    print(save(save_to, repeats, provenance(seed), calls))
    print(table(repeats[0]))
    print(f"counted in {time.monotonic() - started:.0f} s")
    return ExitCode.OK
