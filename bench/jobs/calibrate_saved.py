"""The older calibrations (`calibrate --saved-ratios`, `--saved-counts`): the saved-ratio gate on a few benchmarks,
A/A and planted, by the same rule; and the saved instruction counts' spread with +2% work planted."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, UsageError
from bench.gate import instructions
from bench.gate.config import load_config
from bench.gate.planted import method_timed_by, planted_name
from bench.gate.saved import judge_saved, load_saved, provenance, saved_line
from bench.gate.timed import DEFAULT_CANDIDATE, Timing
from bench.jobs.calibrate import must_be_files, say
from bench.model import results
from bench.model.fixtures import Fixtures
from bench.model.operations import find_case
from bench.report.gate_report import WALL_CLOCK_CALIBRATION, Trial, write_gate_report
from bench.rule import Band
from bench.runners import instructions as counting
from bench.runners.interleaved import Arm, Arms, Engine

DEFAULT_BENCHMARKS: Final = ("get_recent_runs[100]", "save_latency_stats[1000]")
PLANTED_PERCENTS: Final = (10, 25, 100)
DEFAULT_RUNS: Final = 20


def candidate_for(benchmark: str, percent: int) -> str:
    if percent == 0:
        return DEFAULT_CANDIDATE
    operation, _ = find_case(benchmark)
    return f"bench.gate.planted:{planted_name(DEFAULT_CANDIDATE, method_timed_by(operation.name), percent)}"


def run_trial(benchmark: str, percent: int, runs: int, saved: dict[str, Band], timing: Timing) -> Trial:
    candidate = candidate_for(benchmark, percent)
    engine = Engine(Arms(Arm(candidate)), timing.seed, timing.rounds)
    config = load_config()
    failures = 0
    started = time.monotonic()
    for run in range(runs):
        (outcome,) = judge_saved([benchmark], saved, engine, timing.design(config), config)
        failures += outcome.fails
        print(f"{benchmark} +{percent}% run {run + 1}/{runs}: {saved_line(outcome)}", file=sys.stderr, flush=True)
    return Trial(benchmark, percent, runs, failures, time.monotonic() - started)


def calibrate_saved_counts(*, calls: int, seed: int, saved: Path, output: Path) -> ExitCode:
    """The older calibration of the saved instruction counts: their spread, and +2% planted work caught."""
    must_be_files(output)
    counting.require("valgrind")
    result = instructions.calibrate(instructions.CALIBRATION_BENCHMARK, calls, seed, saved, say)
    print("\n".join(result["lines"]))
    write_gate_report(output)
    return ExitCode.OK


def calibrate_saved_ratios(
    *, benchmarks: Sequence[str], runs: int, saved: Path, timing: Timing, output: Path
) -> ExitCode:
    """The older calibration: the saved-ratio gate on a few benchmarks, A/A and planted."""
    must_be_files(output)
    if runs < 1:
        raise UsageError("--runs must be at least 1")
    bands = load_saved(saved, provenance(Fixtures(seed=timing.seed)))
    for benchmark in benchmarks:
        if benchmark not in bands:
            raise UsageError(f"{benchmark} has no saved ratio in {saved}")
    started = time.monotonic()
    trials = [
        run_trial(benchmark, percent, runs, bands, timing)
        for benchmark in benchmarks
        for percent in (0, *PLANTED_PERCENTS)
    ]
    calibration = {
        "settings": {
            "runs": runs,
            "processes": timing.processes,
            "rounds": timing.rounds,
            "max_reruns": timing.max_reruns,
        },
        "saved": {t.benchmark: asdict(bands[t.benchmark]) for t in trials},
        "trials": [asdict(t) for t in trials],
        "seconds": time.monotonic() - started,
    }
    results.write_json_atomically(WALL_CLOCK_CALIBRATION, calibration)
    print(write_gate_report(output))
    return ExitCode.OK
