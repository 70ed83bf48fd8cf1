"""python -m bench.gate_calibration: how often the gate cries wolf, and how often it catches a real regression.

Runs the gate many times on small benchmarks: with the unchanged optimized store (A/A against its
saved ratio) and with +10%, +25% and +100% planted on the benchmark's own method (bench.planted).
Writes the measured rates and the time it took to results/GATE.md. A gate whose power is not
measured is a gate that may never fire.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from bench import gate
from bench.fixtures import Fixtures
from bench.operations import find_case
from bench.planted import method_timed_by, planted_name

GATE_REPORT: Final = Path("results/GATE.md")
WALL_CLOCK_CALIBRATION: Final = Path("results/gate/calibration.json")
DEFAULT_BENCHMARKS: Final = ("get_recent_runs[100]", "save_latency_stats[1000]")
PLANTED_PERCENTS: Final = (10, 25, 100)
DEFAULT_RUNS: Final = 20
TARGETS: Final = "false alarms <= 5%; detection >= 95% at +25% and 100% at +100%"


@dataclass(frozen=True)
class Trial:
    benchmark: str
    planted_percent: int  # 0 for the unchanged store
    runs: int
    failures: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.failures / self.runs


def candidate_for(benchmark: str, percent: int) -> str:
    if percent == 0:
        return gate.DEFAULT_CANDIDATE
    operation, _ = find_case(benchmark)
    return f"bench.planted:{planted_name(gate.DEFAULT_CANDIDATE, method_timed_by(operation.name), percent)}"


def run_trial(
    benchmark: str, percent: int, runs: int, saved: dict[str, gate.SavedRatio], args: argparse.Namespace
) -> Trial:
    candidate = candidate_for(benchmark, percent)
    measure = gate.measure_interleaved(candidate, args.seed, args.rounds, gate.DEFAULT_SAMPLE_SECONDS, lambda _: None)
    failures = 0
    started = time.monotonic()
    for run in range(runs):
        (outcome,) = gate.judge([benchmark], saved, measure, args.processes, args.max_reruns)
        failures += outcome.fails
        print(f"{benchmark} +{percent}% run {run + 1}/{runs}: {outcome.line()}", file=sys.stderr, flush=True)
    return Trial(benchmark, percent, runs, failures, time.monotonic() - started)


def render_wall_clock(calibration: dict) -> list[str]:
    settings = calibration["settings"]
    lines = [
        "## Wall-clock gate",
        "",
        f"Each row runs the CI gate (`python -m bench.gate`) {settings['runs']} times on one benchmark: the",
        "unchanged optimized store against its saved ratio (A/A), and the same store with a planted extra",
        "cost on the benchmark's own method (`bench.planted`: each call busy-waits that share of its own",
        f"duration). Gate settings: {settings['processes']} worker processes, {settings['rounds']} interleaved",
        f"rounds each, up to {settings['max_reruns']} re-runs of an inconclusive verdict, a regression",
        f"confirmed in fresh processes. Targets: {TARGETS}.",
        "",
        "| benchmark | saved ratio | tolerance | planted | runs | failed | rate | what the rate is | time per run |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    trials = [Trial(**t) for t in calibration["trials"]]
    for t in trials:
        what = "false alarms" if t.planted_percent == 0 else "detection"
        s = calibration["saved"][t.benchmark]
        lines.append(
            f"| `{t.benchmark}` | {s['ratio']:.4f} | {s['tolerance']:.1%} | +{t.planted_percent}% | {t.runs} | "
            f"{t.failures} | {t.rate:.0%} | {what} | {t.seconds / t.runs:.1f} s |"
        )
    lines += ["", "Against the targets:", ""]
    for benchmark in dict.fromkeys(t.benchmark for t in trials):
        by_percent = {t.planted_percent: t for t in trials if t.benchmark == benchmark}
        checks = []
        if 0 in by_percent:
            checks.append(_check("false alarms", by_percent[0].rate, by_percent[0].rate <= 0.05))
        if 25 in by_percent:
            checks.append(_check("detection at +25%", by_percent[25].rate, by_percent[25].rate >= 0.95))
        if 100 in by_percent:
            checks.append(_check("detection at +100%", by_percent[100].rate, by_percent[100].rate == 1.0))
        if 10 in by_percent:
            checks.append(f"detection at +10% {by_percent[10].rate:.0%} (no target)")
        lines.append(f"- `{benchmark}`: " + "; ".join(checks))
    lines += ["", f"Wall-clock calibration took {calibration['seconds'] / 60:.1f} minutes in all.", ""]
    return lines


def render_instructions(calibration: dict) -> list[str]:
    repeats = ", ".join(f"{r:,.0f}" for r in calibration["repeat_instructions"])
    return [
        "## Instruction-count gate",
        "",
        "Written by `python -m bench.instructions --calibrate`. The count of the unchanged optimized store,",
        f"repeated {len(calibration['repeat_instructions'])} times on `{calibration['benchmark']}` "
        f"({calibration['calls_per_run']} calls per counted run, PYTHONHASHSEED fixed):",
        "",
        f"- instructions per call: {repeats}",
        f"- largest deviation from their median: {calibration['spread']:.4%}; saved tolerance: "
        f"{calibration['saved_tolerance']:.4%}",
        f"- planted +2% work ({calibration['planted_iterations']:,} loop iterations per call, `bench.planted` "
        f"`__work`): measured growth {calibration['planted_growth']:+.3%}, "
        f"{'caught' if calibration['planted_fails'] else 'NOT caught'}; unchanged store "
        f"{'failed (a false alarm)' if calibration['unchanged_fails'] else 'passed'}",
        "",
        "```",
        *calibration["lines"],
        "```",
        "",
        f"Instruction calibration took {calibration['seconds']:.0f} s.",
        "",
    ]


def write_gate_report(output: Path = GATE_REPORT) -> str:
    """GATE.md from whichever calibrations have been saved: the wall-clock one and the instruction one."""
    from bench.instructions import CALIBRATION as INSTRUCTION_CALIBRATION

    lines = [
        "# Gate calibration",
        "",
        "Generated from results/gate/calibration.json (`nox -s gate-calibration`) and",
        "results/instructions/calibration.json (`python -m bench.instructions --calibrate`); never edited by hand.",
        "",
    ]
    for path, render in ((WALL_CLOCK_CALIBRATION, render_wall_clock), (INSTRUCTION_CALIBRATION, render_instructions)):
        if path.is_file():
            lines += render(json.loads(path.read_text()))
        else:
            lines += [f"(No {path} yet.)", ""]
    report = "\n".join(lines)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    return report


def _check(what: str, rate: float, met: bool) -> str:
    return f"{what} {rate:.0%} ({'met' if met else 'NOT met'})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gate_calibration", description=__doc__.splitlines()[0])
    parser.add_argument("--benchmark", action="append", help=f"default: {', '.join(DEFAULT_BENCHMARKS)}")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="gate runs per row (default: %(default)s)")
    parser.add_argument("--processes", type=int, default=gate.DEFAULT_PROCESSES)
    parser.add_argument("--rounds", type=int, default=gate.DEFAULT_ROUNDS)
    parser.add_argument("--max-reruns", type=int, default=gate.DEFAULT_MAX_RERUNS)
    parser.add_argument("--saved", type=Path, default=gate.SAVED_RATIOS)
    parser.add_argument("--seed", type=int, default=Fixtures().seed)
    parser.add_argument("--output", type=Path, default=GATE_REPORT, help="default: %(default)s")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        saved = gate.load_saved(args.saved, gate.provenance(Fixtures(seed=args.seed)))
        benchmarks = args.benchmark or list(DEFAULT_BENCHMARKS)
        for benchmark in benchmarks:
            if benchmark not in saved:
                raise gate.UsageError(f"{benchmark} has no saved ratio in {args.saved}")
    except (gate.UsageError, LookupError) as e:
        print(f"bench.gate_calibration: error: {e}", file=sys.stderr)
        return gate.USAGE
    started = time.monotonic()
    trials = [
        run_trial(benchmark, percent, args.runs, saved, args)
        for benchmark in benchmarks
        for percent in (0, *PLANTED_PERCENTS)
    ]
    calibration = {
        "settings": {
            "runs": args.runs,
            "processes": args.processes,
            "rounds": args.rounds,
            "max_reruns": args.max_reruns,
        },
        "saved": {t.benchmark: asdict(saved[t.benchmark]) for t in trials},
        "trials": [asdict(t) for t in trials],
        "seconds": time.monotonic() - started,
    }
    WALL_CLOCK_CALIBRATION.parent.mkdir(parents=True, exist_ok=True)
    WALL_CLOCK_CALIBRATION.write_text(json.dumps(calibration, indent=2) + "\n")
    print(write_gate_report(args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
