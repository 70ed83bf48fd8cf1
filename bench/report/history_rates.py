"""GATE.md's sections on history's change points and find's first slow commit: the rule replayed on processes
measured by the calibration (bench.jobs.calibrate), through history's and find's own deciding code."""

from __future__ import annotations

import math
import random
import statistics
from typing import Final

from bench.gate.config import GateConfig
from bench.history import points as history_points
from bench.history.simulate import NAMED, past_band, simulated_bisections, simulated_histories
from bench.rule import Band, Design, decide

HISTORY_AA_RUNS: Final = 40  # A/A commits at history's settings
HISTORY_COMMITS: Final = 20  # the history length the rates are for
REAL_HISTORIES: Final = 30
RESAMPLED_HISTORIES: Final = 2000
RESAMPLED_BISECTIONS: Final = 2000
PLANTED_POSITIONS: Final = {"first after the base": 1, "middle": HISTORY_COMMITS // 2, "newest": HISTORY_COMMITS - 1}
HISTORY_PLANTED: Final = (10, 25)


def history_design(config: GateConfig | dict) -> Design:
    """History's looks at its default settings, two-sided, at the configured false-alarm rate."""
    rate = config.false_alarm_rate if isinstance(config, GateConfig) else config["false_alarm_rate"]
    processes, looks = history_points.DEFAULT_PROCESSES, history_points.DEFAULT_MAX_RERUNS
    return Design.every(processes, looks, rate, two_sided=True)


def _bands(names: list[str], config: dict) -> dict[str, Band]:
    return {name: Band(1.0, config["minimum_effects"].get(name, config["default_minimum_effect"])) for name in names}


def history_lines(history: dict, config: dict) -> list[str]:
    """History's change points: real A/A commits, then histories resampled from their processes, planted or not."""
    aa = history["aa"]
    if not aa:
        return []
    design = history_design(config)
    names = list(aa[0]["timings"])
    bands = _bands(names, config)
    pools = {name: [_step(row) for commit in aa for row in commit["timings"][name]["processes"]] for name in names}
    positions = len(aa) * len(names)
    # Each real position decided again by today's design from its own processes, as history would decide it; one
    # this design would have looked at further than the processes measured is counted, and said.
    tests = (HISTORY_COMMITS - 1) * len(names)
    named_at: list[bool] = []
    short = 0
    for commit in aa:
        decisions = []
        for name in names:
            values = [_step(row) for row in commit["timings"][name]["processes"]]
            decision = decide(values, bands[name], design, tests, pursue=past_band)
            short += decision.open and past_band(decision) and decision.processes < design.looks[-1]
            decisions.append(decision.verdict in NAMED)
        named_at.append(any(decisions))
    named = sum(named_at)
    rng = random.Random(0)
    real = [rng.sample(range(len(aa)), min(HISTORY_COMMITS - 1, len(aa))) for _ in range(REAL_HISTORIES)]
    false_real = sum(any(named_at[i] for i in drawn) for drawn in real)
    resampled = simulated_histories(pools, bands, design, HISTORY_COMMITS, RESAMPLED_HISTORIES)
    processes = sum(len(pool) for pool in pools.values())
    lines = [
        "## History (`python -m bench history`): change points",
        "",
        f"A step is the rule's two-sided verdict on a commit's processes, log(commit / the commit before it), both "
        f"timed in each (history's settings: looks at {'/'.join(map(str, design.looks))} processes, "
        f"{history_points.DEFAULT_ROUNDS} rounds, only a step whose estimate lies past the band looked at further), "
        f"at a level shared over the {HISTORY_COMMITS - 1} positions x {len(names)} benchmarks of a "
        f"{HISTORY_COMMITS}-commit history. {len(aa)} A/A commits were measured (the working tree beside HEAD, the "
        f"same code; {processes} processes), each looked at further as history did when they were measured.",
        "",
        f"- real A/A positions: **{named} steps named in {positions}** ({len(aa)} commits x {len(names)} "
        f"benchmarks, each decided from its own processes by this design; {short} would have been looked at "
        f"further than measured); {_met(named == 0 and short == 0)}",
        f"- real A/A histories: {REAL_HISTORIES} of {HISTORY_COMMITS} commits, each drawing {HISTORY_COMMITS - 1} "
        f"of those commits: **{false_real} with any false change point**; {_met(false_real == 0)}. A position's "
        "verdict rests on its own processes alone, so these histories share positions: the count above is the "
        "independent one.",
        f"- resampled A/A histories of {HISTORY_COMMITS} commits ({resampled.runs:,}, every position drawing its "
        f"processes from those measured): **{resampled.false_histories:.2%}** with any false change point "
        f"(target at most 5%); {_met(resampled.false_histories <= 0.05)}",
        f"- time per A/A commit: median {statistics.median(c['seconds'] for c in aa):.0f} s",
        "",
        "Planted steps, resampled: every benchmark's processes at one position moved by the step, as a commit "
        "slowing every method would; detected = named at that commit.",
        "",
        "| benchmark | planted | " + " | ".join(PLANTED_POSITIONS) + " | target |",
        "| --- | ---: |" + " ---: |" * len(PLANTED_POSITIONS) + " --- |",
    ]
    for percent in HISTORY_PLANTED:
        found = {
            where: simulated_histories(
                pools, bands, design, HISTORY_COMMITS, RESAMPLED_HISTORIES // 4, (position, math.log1p(percent / 100))
            ).detected
            for where, position in PLANTED_POSITIONS.items()
        }
        for name in names:
            rates = [found[where][name] for where in PLANTED_POSITIONS]
            target = _met(min(rates) >= 0.95) if percent == 10 else "-"
            lines.append(f"| `{name}` | +{percent}% | " + " | ".join(f"{r:.1%}" for r in rates) + f" | {target} |")
    lines += ["", f"History calibration took {sum(c['seconds'] for c in aa) / 60:.1f} minutes of A/A commits.", ""]
    return lines


def _step(row: list[float | None]) -> float:
    candidate, _, reference = row
    assert candidate is not None and reference is not None
    return math.log(candidate / reference)


def find_lines(wall: dict, design: Design, config: dict) -> list[str]:
    """find: bisections replayed on the gate's A/A processes (find's steps are gate decisions at its settings)."""
    aa = wall["aa"]
    if not aa:
        return []
    names = list(aa[0]["estimates"])
    bands = _bands(names, config)
    pools = {name: [v for run in aa for v in run.get("log_ratios", {}).get(name, [])] for name in names}
    lines = [
        "## Find (`python -m bench find`): the first slow commit",
        "",
        f"Each step of a bisection is the gate's rule at the gate's settings on one --only benchmark, its "
        f"processes drawn from the whole-gate A/A runs' above, moved by the step from the planted commit on. "
        f"{RESAMPLED_BISECTIONS:,} bisections of {HISTORY_COMMITS} commits per row; right = the planted commit "
        "named first slow.",
        "",
        "| benchmark | step | " + " | ".join(PLANTED_POSITIONS) + " | target |",
        "| --- | ---: |" + " ---: |" * len(PLANTED_POSITIONS) + " --- |",
    ]
    positions = {"first after the base": 0, "middle": HISTORY_COMMITS // 2, "newest": HISTORY_COMMITS - 1}
    for percent in HISTORY_PLANTED:
        for name in names:
            rates = [
                simulated_bisections(
                    pools[name],
                    bands[name],
                    design,
                    HISTORY_COMMITS,
                    first,
                    math.log1p(percent / 100),
                    RESAMPLED_BISECTIONS // (1 if percent == 10 else 4),
                )
                for first in positions.values()
            ]
            target = _met(min(rates) >= 0.95) if percent == 10 else "-"
            lines.append(f"| `{name}` | +{percent}% | " + " | ".join(f"{r:.1%}" for r in rates) + f" | {target} |")
    return [*lines, ""]


def _met(met: bool) -> str:
    return "met" if met else "NOT met"
