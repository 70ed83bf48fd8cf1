"""`python -m bench calibrate`: how often the gate cries wolf, and how often it catches a real regression.

Runs the gate many times on small benchmarks: with the unchanged optimized store (A/A against its
saved ratio) and with +10%, +25% and +100% planted on the benchmark's own method (bench.gate.planted).
Writes the measured rates and the time it took to results/GATE.md. A gate whose power is not
measured is a gate that may never fire.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from bench.errors import ExitCode, UsageError
from bench.gate import check as gate
from bench.gate import instructions
from bench.gate.planted import method_timed_by, plant_work_in_source, planted_name
from bench.model import git, progress, results, snapshot
from bench.model.fixtures import Fixtures
from bench.model.operations import OPERATIONS, build_fixtures, case_name, cases, find_case
from bench.model.options import add_only_option, add_seed_option
from bench.model.snapshot import Snapshot
from bench.model.verdict import Verdict
from bench.runners import instructions as counting

HELP: Final = (
    "Calibrate `gate --against`: A/A runs against HEAD, planted slowdowns, instruction counts; writes the JSON "
    "and regenerates results/GATE.md. --saved-ratios and --saved-counts run the older calibrations of the "
    "saved-ratio and saved-count checks. A timing job: nothing else may use the CPU."
)
GATE_REPORT: Final = results.GATE_REPORT
WALL_CLOCK_CALIBRATION: Final = results.SAVED_RATIO_CALIBRATION.path
AGAINST_CALIBRATION: Final = results.AGAINST_CALIBRATION.path
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
    return f"bench.gate.planted:{planted_name(gate.DEFAULT_CANDIDATE, method_timed_by(operation.name), percent)}"


def run_trial(benchmark: str, percent: int, runs: int, saved: dict[str, gate.Band], args: argparse.Namespace) -> Trial:
    candidate = candidate_for(benchmark, percent)
    arms = gate.Arms(gate.Arm(candidate))
    measure = gate.measure_interleaved(arms, args.seed, args.rounds, gate.DEFAULT_SAMPLE_SECONDS)
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
        f"Each row runs the CI gate (`python -m bench gate`) {settings['runs']} times on one benchmark: the",
        "unchanged optimized store against its saved ratio (A/A), and the same store with a planted extra",
        "cost on the benchmark's own method (`bench.gate.planted`: each call busy-waits that share of its own",
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
        "Written by `python -m bench calibrate --saved-counts`. The count of the unchanged optimized store,",
        f"repeated {len(calibration['repeat_instructions'])} times on `{calibration['benchmark']}` "
        f"({calibration['calls_per_run']} calls per counted run, PYTHONHASHSEED fixed):",
        "",
        f"- instructions per call: {repeats}",
        f"- largest deviation from their median: {calibration['spread']:.4%}; saved tolerance: "
        f"{calibration['saved_tolerance']:.4%}",
        f"- planted +2% work ({calibration['planted_iterations']:,} loop iterations per call, `bench.gate.planted` "
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


def write_gate_report(output: Path = GATE_REPORT, against: Path = AGAINST_CALIBRATION) -> str:
    """GATE.md from whichever calibrations have been saved: against a revision, then the older saved-ratio ones."""
    lines = [
        "# Gate calibration",
        "",
        f"Generated from {results.shown(against)} (`python -m bench calibrate`), and for the older saved-ratio",
        "gate from",
        "results/gate/calibration.json (`python -m bench calibrate --saved-ratios`) and",
        "results/instructions/calibration.json (`python -m bench calibrate --saved-counts`); never edited by hand.",
        "",
    ]
    sections = (
        (against, render_against, "python -m bench calibrate"),
        (WALL_CLOCK_CALIBRATION, render_wall_clock, "python -m bench calibrate --saved-ratios"),
        (instructions.CALIBRATION, render_instructions, "python -m bench calibrate --saved-counts"),
    )
    for path, render, command in sections:
        if path.is_file():
            lines += render(json.loads(path.read_text()))
        else:
            lines += [f"(No {results.shown(path)} in this checkout: `{command}` writes it.)", ""]
    report = "\n".join(lines)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    return report


def _check(what: str, rate: float, met: bool) -> str:
    return f"{what} {rate:.0%} ({'met' if met else 'NOT met'})"


# --- against a revision: whole-gate A/A, planted regressions, instruction counts -----------------

AA_RUNS: Final = 30
# planted percent: gate runs on each operation's benchmarks, in this order (the targets first)
PLANTED_RUNS: Final = {10: 20, 25: 10, 5: 10}
INSTRUCTION_AA_RUNS: Final = 10
INSTRUCTION_PLANTED_GROWTH: Final = 0.01
# Each instruction A/A run grows the environment and the temporary folder's name by a different amount.
PADDING_STEP: Final = 211
AGAINST_TARGETS: Final = {
    "wall_aa": "0 false alarms in at least 30 whole-gate runs",
    "wall_10": "at least 95% detection of +10% on every benchmark",
    "wall_25": "100% detection of +25%",
    "instructions": "0 false alarms; +1% caught on every operation",
}


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) binomial interval for successes/trials, by bisection on the binomial tail."""
    if not 0 <= successes <= trials or trials < 1:
        raise ValueError(f"need 0 <= successes <= trials, trials >= 1; got {successes}/{trials}")
    tail = (1 - confidence) / 2

    def at_most(k: int, p: float) -> float:
        return sum(math.comb(trials, i) * p**i * (1 - p) ** (trials - i) for i in range(k + 1))

    def solve(too_low: Callable[[float], bool]) -> float:
        low, high = 0.0, 1.0
        for _ in range(100):
            middle = (low + high) / 2
            low, high = (middle, high) if too_low(middle) else (low, middle)
        return (low + high) / 2

    # Upper: the p at which seeing at most `successes` has probability tail; lower: at least `successes`.
    upper = 1.0 if successes == trials else solve(lambda p: at_most(successes, p) > tail)
    lower = 0.0 if successes == 0 else solve(lambda p: 1 - at_most(successes - 1, p) < tail)
    return lower, upper


def _require_store_is(reference: Snapshot) -> None:
    """An A/A against `reference` is only one if the working tree's store is the reference's."""
    repo, folder = git.repository(), snapshot.DEFAULT_FOLDER
    if changed := git.changed(repo, [folder]):
        raise UsageError(
            f"{folder}/ differs from HEAD ({changed[0].strip()} ...): "
            "commit or stash it, the A/A runs compare the working tree with the reference"
        )
    if not git.succeeds(repo, "diff", "--quiet", reference.commit, "HEAD", "--", folder):
        raise UsageError(f"{folder}/ at HEAD differs from the calibration's reference {reference.label}")


def _reference(rev: str) -> Snapshot:
    """This repository's optimized store at rev: what the A/A runs compare the working tree's with."""
    return snapshot.at(git.repository(), rev, snapshot.Location(snapshot.DEFAULT_STORE, snapshot.DEFAULT_CLASS))


def _chosen(name: str, args: Any) -> bool:
    return not args.only or name in args.only


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _gate_run(names: list[str], candidate: str, head: Snapshot, config: gate.GateConfig, args: Any) -> dict:
    started = time.monotonic()
    outcomes = gate.judge_against(
        names,
        gate.Arm(candidate),
        head,
        config,
        processes=args.processes,
        rounds=args.rounds,
        max_reruns=args.max_reruns,
        seed=args.seed,
    )
    for outcome in outcomes:
        _say(gate.against_line(outcome, head, None))
    return {
        "candidate": candidate,
        "failed": [o.name for o in outcomes if o.fails],
        "estimates": {o.name: o.interval.estimate for o in outcomes if o.interval},
        "detectable": {o.name: gate.detectable_slowdown(o.interval, o.band) for o in outcomes if o.interval and o.band},
        "processes": {o.name: o.processes for o in outcomes},
        "seconds": time.monotonic() - started,
    }


def wall_clock_calibration(
    wall: dict, head: Snapshot, config: gate.GateConfig, args: Any, checkpoint: Callable[[], None]
) -> None:
    """Whole-gate A/A runs, then each operation's benchmarks with planted slowdowns; skips runs already saved."""
    names = [case_name(op, size) for op, size in cases() if _chosen(case_name(op, size), args)]
    aa = wall.setdefault("aa", [])
    planted = wall.setdefault("planted", [])
    with progress.task(f"A/A gate runs against {head.label}", max(args.aa_runs - len(aa), 0)) as step:
        for run in range(len(aa), args.aa_runs):
            step(f"A/A run {run + 1}/{args.aa_runs}")
            aa.append(_gate_run(names, gate.DEFAULT_CANDIDATE, head, config, args))
            checkpoint()
    for percent, runs in args.planted_runs.items():
        _planted_runs_of(percent, runs, planted, head, config, args, checkpoint)


def _planted_runs_of(
    percent: int,
    runs: int,
    planted: list[dict],
    head: Snapshot,
    config: gate.GateConfig,
    args: Any,
    checkpoint: Callable[[], None],
) -> None:
    """Gate runs with +percent planted on each operation's method, on that operation's benchmarks."""
    todo: list[tuple[str, list[str], str, int]] = []
    for operation in OPERATIONS:
        op_names = [case_name(operation, size) for size in operation.sizes if _chosen(case_name(operation, size), args)]
        if not op_names:
            continue
        method = method_timed_by(operation.name)
        candidate = f"bench.gate.planted:{planted_name(gate.DEFAULT_CANDIDATE, method, percent)}"
        done = sum(1 for row in planted if row["operation"] == operation.name and row["percent"] == percent)
        todo += [(operation.name, op_names, candidate, run) for run in range(done, runs)]
    with progress.task(f"gate runs with +{percent}% planted", len(todo)) as step:
        for operation_name, op_names, candidate, run in todo:
            step(f"{operation_name} +{percent}% run {run + 1}/{runs}")
            planted.append(
                {"operation": operation_name, "percent": percent, **_gate_run(op_names, candidate, head, config, args)}
            )
            checkpoint()


def instruction_calibration(
    counts: dict, head: Snapshot, config: gate.GateConfig, args: Any, checkpoint: Callable[[], None]
) -> None:
    """Instruction A/A runs (each in another environment size and temporary path), then +1% planted per operation."""
    names = [name for name in counting.selected_names(True, None) if _chosen(name, args)]
    aa = counts.setdefault("aa", [])
    planted = counts.setdefault("planted", [])
    for run in range(len(aa), args.instruction_runs):
        padding = run * PADDING_STEP
        started = time.monotonic()
        _say(f"instruction A/A run {run + 1}/{args.instruction_runs} (padding {padding})")
        pairs = counting.measure_against(names, gate.DEFAULT_CANDIDATE, head, args.seed, paddings=(padding, padding))
        verdicts = {name: instructions.decide(pair, config.instruction_tolerance) for name, pair in pairs.items()}
        aa.append(
            {
                "padding": padding,
                "growth": {name: pair.growth for name, pair in pairs.items()},
                "failed": [name for name, v in verdicts.items() if v.fails],
                "seconds": time.monotonic() - started,
            }
        )
        checkpoint()
    for name in names:
        if any(row["benchmark"] == name for row in planted):
            continue
        planted.append(_instruction_planted(name, head, config, args))
        checkpoint()


def _instruction_planted(name: str, head: Snapshot, config: gate.GateConfig, args: Any) -> dict:
    """+1% planted in the committed source of the method `name` times (one line), against HEAD's count.

    The line is a loop; where even one iteration overshoots the band, bare assignments instead.
    """
    operation, _ = find_case(name)
    method = method_timed_by(operation.name)
    started = time.monotonic()
    store_module = head.store.module
    source = head.modules()[store_module]
    calls = counting.calls_against(name)
    build_fixtures(Fixtures(seed=args.seed), [find_case(name)])
    base = counting.count(name, head.spec(), calls, args.seed, at=head)
    for work in ("loop iterations", "assignments"):
        counted: dict[int, counting.Count] = {}

        def count_with(amount: int, work: str = work, counted: dict[int, counting.Count] = counted) -> float:
            planted = plant_work_in_source(source, method, amount, unrolled=work == "assignments")
            altered = head.with_source(store_module, planted, f"{work.split()[0]}{amount}")
            _say(f"counting {name} with {amount} planted {work}")
            counted[amount] = counting.count(name, altered.spec(), calls, args.seed, at=altered)
            return counted[amount].instructions

        amount, probes = instructions.planted_iterations(base.instructions, INSTRUCTION_PLANTED_GROWTH, count_with)
        if _within_band(probes[amount] / base.instructions - 1):
            break
    # The chosen probe is itself a count of the planted snapshot, with the same calls and seed as `base`.
    pair = counting.Pair(counted[amount], base)
    return {
        "benchmark": name,
        "method": method,
        "work": work,
        "iterations": amount,
        "probes": {str(i): c / base.instructions - 1 for i, c in probes.items()},
        "growth": pair.growth,
        "caught": instructions.decide(pair, config.instruction_tolerance) is Verdict.REGRESSED,
        "seconds": time.monotonic() - started,
    }


def render_against(calibration: dict) -> list[str]:
    """GATE.md's section on the gate against a revision, from its calibration JSON."""
    settings, config = calibration["settings"], calibration["config"]
    lines = [
        "## Against a revision (`python -m bench gate --against REV`, what CI runs)",
        "",
        f"Reference: the working tree's store against HEAD ({calibration['reference'][:12]}), the same code (A/A),",
        f"and with a planted slowdown. Gate settings: {settings['processes']} processes, {settings['rounds']} rounds",
        f"each, up to {settings['max_reruns']} re-runs; rule from pyproject.toml: minimum effect "
        f"{config['default_minimum_effect']:.0%}, {config['false_alarm_rate']:.0%} nominal false alarms per run "
        "(Bonferroni over its benchmarks), a regression confirmed in fresh processes.",
        f"Interval upper bounds are Clopper-Pearson 95%. Targets: {'; '.join(AGAINST_TARGETS.values())}.",
        "",
    ]
    if not calibration.get("complete"):
        lines += [
            "**Partial calibration**: the run stopped before every planned run was done; the rows below hold",
            "the runs it finished. `python -m bench calibrate --resume` does the rest.",
            "",
        ]
    wall = calibration.get("wall_clock")
    if wall:
        aa = wall["aa"]
        alarms, upper = _alarms(aa)
        lines += [
            "### Wall clock: A/A, whole gate (all benchmarks)",
            "",
            f"- {len(aa)} runs, **{alarms} with any false alarm** (rate {alarms / max(len(aa), 1):.0%}, "
            f"95% upper bound {upper:.1%}); {_met(alarms == 0 and len(aa) >= AA_RUNS)}",
            f"- time per whole-gate run: median {statistics.median(r['seconds'] for r in aa):.0f} s" if aa else "",
            "",
            "| benchmark | false alarms | median estimate | median smallest slowdown caught |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name in aa[0]["estimates"] if aa else []:
            failures = sum(name in run["failed"] for run in aa)
            estimate = statistics.median(run["estimates"][name] for run in aa)
            detectable = statistics.median(run["detectable"][name] for run in aa)
            lines.append(f"| `{name}` | {failures}/{len(aa)} | {estimate:.4f} | +{detectable:.1%} |")
        lines += [
            "",
            "### Wall clock: planted slowdowns, each run on the planted operation's benchmarks",
            "",
            "The planted copy wraps the method (`bench.gate.planted`); on a call of a few microseconds the wrapper's",
            "own cost adds to the planted share, so the median measured ratio is shown beside each row.",
            "",
            "A plant is caught when the measured ratio's interval clears the minimum effect; the median smallest",
            "slowdown those same runs could catch is shown beside it, so a miss says whether the plant fell short",
            "of it or the runs were too noisy.",
            "",
            "| benchmark | planted | median measured | median smallest caught | runs | detected | rate | 95% interval "
            "| target |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
        ]
        rows: dict[tuple[str, int], list[tuple[bool, float, float]]] = {}
        for run in wall["planted"]:
            for name, estimate in run["estimates"].items():
                caught = (name in run["failed"], estimate, run["detectable"].get(name, math.nan))
                rows.setdefault((name, run["percent"]), []).append(caught)
        for (name, percent), row in sorted(rows.items()):
            detected = sum(caught for caught, _, _ in row)
            low, high = clopper_pearson(detected, len(row))
            target = {10: detected / len(row) >= 0.95, 25: detected == len(row)}.get(percent)
            lines.append(
                f"| `{name}` | +{percent}% | {statistics.median(e for _, e, _ in row):.3f} | "
                f"+{statistics.median(d for _, _, d in row):.1%} | {len(row)} | {detected} | "
                f"{detected / len(row):.0%} | {low:.0%}..{high:.0%} | {'-' if target is None else _met(target)} |"
            )
        gate_seconds = sum(run["seconds"] for run in (*wall["aa"], *wall["planted"]))
        lines += [
            "",
            f"Wall-clock calibration took {gate_seconds / 60:.1f} minutes of gate runs "
            f"({len(wall['aa'])} A/A, {len(wall['planted'])} planted), over every resumed session.",
            "",
        ]
    counts = calibration.get("instructions")
    if counts:
        aa = counts["aa"]
        alarms, upper = _alarms(aa)
        lines += [
            "### Instruction counts (`--against REV --instructions`, quick sizes)",
            "",
            f"Tolerance {config['instruction_tolerance']:.2%} (pyproject.toml). A/A: {len(aa)} runs, each in fresh",
            f"processes with the environment and the temporary folder's name grown by another amount (0, "
            f"{PADDING_STEP}, {2 * PADDING_STEP} ... characters; both sides of a run alike).",
            "",
            f"- **{alarms} runs with any false alarm** (95% upper bound {upper:.1%})",
            "",
            "| benchmark | largest A/A difference | planted +1%: work per call | measured growth | caught |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        planted = {row["benchmark"]: row for row in counts["planted"]}
        for name in aa[0]["growth"] if aa else planted:
            largest = max(abs(run["growth"][name]) for run in aa) if aa else math.nan
            row = planted.get(name)
            work = f"{row['iterations']:,} {row.get('work', 'loop iterations')}" if row else ""
            tail = f"{work} | {row['growth']:+.3%} | {_planted_verdict(row)}" if row else "- | - | -"
            lines.append(f"| `{name}` | {largest:.4%} | {tail} |")
        lines += ["", f"Instruction calibration took {counts['seconds'] / 60:.1f} minutes.", ""]
    return lines


def _alarms(runs: list[dict]) -> tuple[int, float]:
    """Runs with any false alarm, and the Clopper-Pearson 95% upper bound of that rate."""
    alarms = sum(bool(run["failed"]) for run in runs)
    return alarms, clopper_pearson(alarms, len(runs))[1] if runs else math.nan


def _planted_verdict(row: dict) -> str:
    """Met only where the plant really measured about +1%: a larger one caught proves less."""
    if not row["caught"]:
        return "NOT met"
    if not _within_band(row["growth"]):
        return f"caught, but the plant measured {row['growth']:+.1%}: not shown for +1%"
    return "met"


def _within_band(growth: float) -> bool:
    """At most the band the planted-work search aims for: a larger plant caught proves less than +1%."""
    return growth <= INSTRUCTION_PLANTED_GROWTH * instructions.PLANTED_BAND


def _met(met: bool) -> str:
    return "met" if met else "NOT met"


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
        help="gate runs per planted slowdown, on each operation, in this order (default: 10=20,25=10,5=10)",
    )
    parser.add_argument("--instruction-runs", type=int, default=INSTRUCTION_AA_RUNS, help="instruction A/A runs")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the runs the --json file already holds (saved after every run) and do only the missing ones",
    )
    parser.add_argument("--no-wall-clock", action="store_true", help="instruction counts only")
    parser.add_argument("--no-instructions", action="store_true", help="wall clock only")
    parser.add_argument("--processes", type=int, default=gate.DEFAULT_PROCESSES, help="default: %(default)s")
    parser.add_argument("--rounds", type=int, default=gate.DEFAULT_ROUNDS, help="default: %(default)s")
    parser.add_argument("--max-reruns", type=int, default=gate.DEFAULT_MAX_RERUNS, help="default: %(default)s")
    add_seed_option(parser.add_argument)
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
    for path in (args.json, args.output):
        if path.is_dir():
            raise UsageError(f"{results.shown(path)} is a folder: --json and --output name files")
    if args.saved_ratios:
        return _run_saved_ratios(args)
    if args.saved_counts:
        return _run_saved_counts(args)
    if min(args.aa_runs, args.instruction_runs, *args.planted_runs.values()) < 0 or args.processes < 2:
        raise UsageError("run counts must not be negative, --processes at least 2")
    for name in args.only or ():
        find_case(name)  # a UsageError naming it
    config = gate.load_config()
    settings = {
        "only": args.only,
        "processes": args.processes,
        "rounds": args.rounds,
        "max_reruns": args.max_reruns,
        "seed": args.seed,
    }
    if args.resume and args.json.is_file():
        calibration = _resumable(args.json, settings, config)
        head = _reference(calibration["reference"])
        _say(f"resuming {results.shown(args.json)}: the runs it holds are kept")
    else:
        head = _reference("HEAD")
        calibration = {
            "reference": head.commit,
            "settings": settings,
            "config": _config_record(config),
            "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
            "date": time.strftime("%Y-%m-%d"),
            "seconds": 0.0,
        }
    _require_store_is(head)
    previous = calibration["seconds"]
    started = time.monotonic()

    def checkpoint() -> None:
        calibration["seconds"] = previous + time.monotonic() - started
        results.write_json_atomically(args.json, calibration)

    if not args.no_wall_clock:
        _timed_part(
            calibration, "wall_clock", lambda part: wall_clock_calibration(part, head, config, args, checkpoint)
        )
    if not args.no_instructions:
        _timed_part(
            calibration, "instructions", lambda part: instruction_calibration(part, head, config, args, checkpoint)
        )
    calibration["complete"] = _complete(calibration, args)
    checkpoint()
    print(write_gate_report(args.output, against=args.json))
    return ExitCode.OK


def _timed_part(calibration: dict, key: str, body: Callable[[dict], None]) -> None:
    """Runs one part of the calibration; its seconds add up over resumed sessions."""
    part = calibration.setdefault(key, {"seconds": 0.0})
    started, before = time.monotonic(), part["seconds"]
    try:
        body(part)
    finally:
        part["seconds"] = before + time.monotonic() - started


def _complete(calibration: dict, args: Any) -> bool:
    wall, counts = calibration.get("wall_clock", {}), calibration.get("instructions", {})
    chosen = [op for op in OPERATIONS if any(_chosen(case_name(op, size), args) for size in op.sizes)]
    planted_done = all(
        sum(1 for row in wall.get("planted", []) if row["percent"] == percent) >= runs * len(chosen)
        for percent, runs in args.planted_runs.items()
    )
    return (
        len(wall.get("aa", [])) >= args.aa_runs
        and planted_done
        and len(counts.get("aa", [])) >= args.instruction_runs
        and bool(counts.get("planted"))
    )


def _config_record(config: gate.GateConfig) -> dict:
    return asdict(config) | {"minimum_effects": dict(config.minimum_effects)}


def _resumable(path: Path, settings: dict, config: gate.GateConfig) -> dict:
    """The saved partial calibration, if it was run with these settings and this decision rule."""
    calibration = json.loads(path.read_text())
    if calibration.get("settings") != settings:
        raise UsageError(f"--resume: {results.shown(path)} was run with {calibration.get('settings')}, not {settings}")
    if calibration.get("config") != json.loads(json.dumps(_config_record(config))):
        raise UsageError(f"--resume: {results.shown(path)} was run with another decision rule (pyproject.toml)")
    return calibration


def _run_saved_counts(args: argparse.Namespace) -> ExitCode:
    """The older calibration of the saved instruction counts: their spread, and +2% planted work caught."""
    counting.require("valgrind")
    saved = args.saved or instructions.SAVED_COUNTS
    result = instructions.calibrate(instructions.CALIBRATION_BENCHMARK, args.calls, args.seed, saved, _say)
    print("\n".join(result["lines"]))
    write_gate_report(args.output)
    return ExitCode.OK


def _run_saved_ratios(args: argparse.Namespace) -> ExitCode:
    """The older calibration: the saved-ratio gate on a few benchmarks, A/A and planted."""
    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    args.saved = args.saved or gate.SAVED_RATIOS
    saved = gate.load_saved(args.saved, gate.provenance(Fixtures(seed=args.seed)))
    benchmarks = args.benchmark or list(DEFAULT_BENCHMARKS)
    for benchmark in benchmarks:
        if benchmark not in saved:
            raise UsageError(f"{benchmark} has no saved ratio in {args.saved}")
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
    return ExitCode.OK
