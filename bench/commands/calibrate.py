"""`python -m bench calibrate`: the gate's false-alarm and detection rates, then results/GATE.md.

The work is bench.jobs.calibrate's; GATE.md is bench.report.gate_report's."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Final

from bench.errors import ExitCode
from bench.gate import instructions
from bench.gate.saved import SAVED_RATIOS
from bench.gate.timed import DEFAULT_MAX_RERUNS, DEFAULT_PROCESSES, DEFAULT_ROUNDS, Timing
from bench.jobs.calibrate import INSTRUCTION_AA_RUNS, PLANTED_RUNS, Plan, calibrate_against
from bench.jobs.calibrate_saved import DEFAULT_BENCHMARKS, DEFAULT_RUNS, calibrate_saved_counts, calibrate_saved_ratios
from bench.model import results
from bench.model.options import add_only_option, add_reruns_option, add_timing_options
from bench.report.gate_report import AA_RUNS, AGAINST_CALIBRATION, GATE_REPORT
from bench.report.history_rates import HISTORY_AA_RUNS
from bench.runners import instructions as counting

HELP: Final = (
    "Calibrate the rule: whole-gate A/A runs against HEAD and planted slowdowns, history's A/A commits (from which "
    "history's and find's rates are replayed), instruction and system-call counts; writes the JSON and regenerates "
    "results/GATE.md. --saved-ratios and --saved-counts run the older calibrations of the "
    "saved-ratio and saved-count checks. A timing job: nothing else may use the CPU."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--saved-ratios", action="store_true", help="the older calibration of the saved-ratio gate")
    mode.add_argument(
        "--saved-counts",
        action="store_true",
        help=f"the older calibration of the saved instruction counts: {instructions.CALIBRATION_BENCHMARK} "
        f"counted {instructions.CALIBRATION_REPEATS}x, and +2%% work planted",
    )
    parser.add_argument("--aa-runs", type=int, default=AA_RUNS, help="whole-gate A/A runs (default: %(default)s)")
    parser.add_argument(
        "--planted-runs",
        type=_planted_runs,
        default=PLANTED_RUNS,
        metavar="PERCENT=RUNS,...",
        help="whole-gate runs per planted slowdown, planted on every method at once, in this order "
        f"(default: {','.join(f'{p}={r}' for p, r in PLANTED_RUNS.items())})",
    )
    parser.add_argument(
        "--instruction-runs", type=int, default=INSTRUCTION_AA_RUNS, help="count A/A runs (default: %(default)s)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs the --json file already holds (saved after every run) and do only the missing ones",
    )
    parser.add_argument(
        "--history-runs", type=int, default=HISTORY_AA_RUNS, help="history's A/A commits (default: %(default)s)"
    )
    parser.add_argument("--no-wall-clock", action="store_true", help="no whole-gate runs")
    parser.add_argument("--no-history", action="store_true", help="no history A/A commits")
    parser.add_argument("--no-instructions", action="store_true", help="wall clock only, no counts")
    add_timing_options(parser.add_argument, DEFAULT_PROCESSES, DEFAULT_ROUNDS)
    add_reruns_option(parser.add_argument, DEFAULT_MAX_RERUNS)
    parser.add_argument(
        "--json",
        type=Path,
        default=AGAINST_CALIBRATION,
        help=f"the calibration's JSON file, saved after every run (default: {results.shown(AGAINST_CALIBRATION)})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=GATE_REPORT,
        help=f"the GATE.md file to regenerate (default: {results.shown(GATE_REPORT)})",
    )
    add_only_option(parser.add_argument)
    parser.add_argument(
        "--benchmark", action="append", help=f"--saved-ratios: which (default: {', '.join(DEFAULT_BENCHMARKS)})"
    )
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="--saved-ratios: gate runs per row")
    parser.add_argument("--saved", type=Path, help="--saved-ratios: saved ratios; --saved-counts: saved counts")
    parser.add_argument(
        "--calls", type=int, default=counting.DEFAULT_CALLS, help="--saved-counts: calls per counted run"
    )


def _planted_runs(text: str) -> dict[int, int]:
    runs = {}
    for item in text.split(","):
        percent, _, count = item.partition("=")
        if not (percent.strip().isdigit() and count.strip().isdigit()):
            raise argparse.ArgumentTypeError(f"{item!r} is not PERCENT=RUNS")
        runs[int(percent)] = int(count)
    return runs


def run(args: argparse.Namespace) -> ExitCode:
    timing = Timing(args.processes, args.rounds, args.max_reruns, args.seed)  # a UsageError for a bad count
    if args.saved_ratios:
        saved = args.saved or SAVED_RATIOS
        benchmarks = args.benchmark or list(DEFAULT_BENCHMARKS)
        return calibrate_saved_ratios(
            benchmarks=benchmarks, runs=args.runs, saved=saved, timing=timing, output=args.output
        )
    if args.saved_counts:
        saved = args.saved or instructions.SAVED_COUNTS
        return calibrate_saved_counts(calls=args.calls, seed=args.seed, saved=saved, output=args.output)
    plan = Plan(
        timing, tuple(args.only or ()), args.aa_runs, args.planted_runs, args.instruction_runs, args.history_runs
    )
    return calibrate_against(
        plan=plan,
        json_path=args.json,
        output=args.output,
        resume=args.resume,
        wall_clock=not args.no_wall_clock,
        counts=not args.no_instructions,
        history=not args.no_history,
    )
