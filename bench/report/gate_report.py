"""results/GATE.md: the rule's measured false alarms and detection in gate, history and find, generated from the
calibrations' JSON files (bench.jobs.calibrate writes them), never edited by hand."""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.errors import UsageError
from bench.gate import instructions
from bench.model import results
from bench.model.stats import clopper_pearson
from bench.report.history_rates import HISTORY_COMMITS, REAL_HISTORIES, find_lines, history_lines
from bench.rule import Band, Design, resampled_rates

GATE_REPORT: Final = results.GATE_REPORT
WALL_CLOCK_CALIBRATION: Final = results.SAVED_RATIO_CALIBRATION.path
AGAINST_CALIBRATION: Final = results.AGAINST_CALIBRATION.path
TARGETS: Final = "false alarms <= 5%; detection >= 95% at +25% and 100% at +100%"
AA_RUNS: Final = 30
INSTRUCTION_PLANTED_GROWTH: Final = 0.02
RESAMPLED_RUNS: Final = 4000  # simulated gates per resampled rate in GATE.md
# Each instruction A/A run grows the environment and the temporary folder's name by a different amount.
PADDING_STEP: Final = 211
AGAINST_TARGETS: Final = {
    "wall_aa": "0 false alarms in at least 30 whole-gate runs",
    "wall_10": "at least 95% detection of +10% on every benchmark",
    "wall_25": "100% detection of +25%",
    "instructions": "0/10 A/A; +2% caught on every operation; an extra stat and an extra fsync caught",
    "history_aa": f"at most 5% of resampled A/A histories of {HISTORY_COMMITS} commits with any false change point, "
    f"0 in at least {REAL_HISTORIES} real ones",
    "history_10": "at least 95% of +10% steps named at the right commit, at the first, a middle and the newest",
    "find_10": "the right first slow commit at least 95% of the time",
}


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


def render_saved(saved: results.SavedFile, path: Path, render: Callable[[dict], list[str]] | None = None) -> list[str]:
    """A calibration file's section; a file that loads but lacks what its section reads is a UsageError naming it,
    as one that does not load is (a calibration's schema checks only its top level)."""
    document = saved.load(path)
    try:
        return (render or render_against)(document)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError) as e:
        raise UsageError(f"{path} is not a {saved.what}: {type(e).__name__} {e} where GATE.md reads it") from e


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
        (results.MUTATION_QUICK.path, render_answer_pass, "python -m bench mutants --quick-pass"),
        (WALL_CLOCK_CALIBRATION, render_wall_clock, "python -m bench calibrate --saved-ratios"),
        (instructions.CALIBRATION, render_instructions, "python -m bench calibrate --saved-counts"),
    )
    files = (
        results.AGAINST_CALIBRATION,
        results.MUTATION_QUICK,
        results.SAVED_RATIO_CALIBRATION,
        results.COUNT_CALIBRATION,
    )
    for (path, render, command), saved in zip(sections, files, strict=True):
        if path.is_file():
            lines += render_saved(saved, path, render)
        else:
            lines += [f"(No {results.shown(path)} in this checkout: `{command}` writes it.)", ""]
    report = "\n".join(lines)
    output.parent.mkdir(parents=True, exist_ok=True)
    results.write_text_atomically(output, report)
    return report


def render_answer_pass(document: dict) -> list[str]:
    """The quick answer pass's power: the share of the full suite's killed mutants it kills too."""
    killed = {"killed", "caught by type check"}
    full = {name for name, status in document["full"].items() if status in killed}
    both = {name for name in full if document["quick"].get(name) in killed}
    missed = sorted(full - both)
    share = len(both) / len(full) if full else math.nan
    lines = [
        "## The answer pass (what gate and history judge answers with)",
        "",
        f"mutmut's mutants of `storage/optimized.py` against the quick pass exactly as the gate runs it "
        f"({', '.join(document['suite'])}, Hypothesis profile `{document['profile']}`, the optimized store), "
        f"beside the full suite's verdicts (`python -m bench mutants`, results/MUTATION.md), at "
        f"{document['commit'][:12]}, {document['date']}. Target: at least 95% of what the full suite kills.",
        "",
        f"- the full suite kills **{len(full)}** of {len(document['full'])} mutants; the quick pass kills "
        f"**{len(both)}** of those (**{share:.1%}**): {_met(share >= 0.95)}",
        f"- the quick pass on one store, as the gate runs it on each side: {document['pass_seconds']:.0f} s; "
        f"mutmut's whole run of it: {document['seconds'] / 60:.0f} minutes, {document['max_children']} at a time",
    ]
    if missed:
        # By the function mutated (mutmut's x_<function>__mutmut_<n>): where the quick pass's inputs fall short.
        by_function = Counter(_mutated_function(name) for name in missed)
        shown = ", ".join(f"`{function}` {n}" for function, n in by_function.most_common())
        lines.append(f"- killed by the full suite only ({len(missed)}), by function: {shown}")
    return [*lines, ""]


def _mutated_function(mutant: str) -> str:
    """mutmut's `storage.optimized.x_name__mutmut_3` or `...xǁClassǁmethod__mutmut_3`: name, or Class.method."""
    found = re.match(r"^.*?\.x[_ǁ](.*?)__mutmut_\d+$", mutant)
    return found[1].replace("ǁ", ".") if found else mutant


def _check(what: str, rate: float, met: bool) -> str:
    return f"{what} {rate:.0%} ({'met' if met else 'NOT met'})"


def render_against(calibration: dict) -> list[str]:
    """GATE.md's section on the gate against a revision, from its calibration JSON."""
    settings, config = calibration["settings"], calibration["config"]
    design = Design.every(settings["processes"], settings["max_reruns"], config["false_alarm_rate"])
    lines = [
        "## Against a revision (`python -m bench gate --against REV`, what CI runs)",
        "",
        f"Reference: the working tree's store against HEAD ({calibration['reference'][:12]}), the same code (A/A),",
        f"and with a planted slowdown. Wall clock: the rule (bench/rule.py), looks at "
        f"{'/'.join(map(str, design.looks))} processes, {settings['rounds']} rounds each; minimum effect "
        f"{config['default_minimum_effect']:.0%}, {config['false_alarm_rate']:.0%} false alarms per whole run "
        "(Bonferroni over benchmarks and looks). Interval bounds on rates are Clopper-Pearson 95%.",
        f"Targets: {'; '.join(AGAINST_TARGETS.values())}.",
        "",
    ]
    if not calibration.get("complete"):
        lines += [
            "**Partial calibration**: the run stopped before every planned run was done; the rows below hold",
            "the runs it finished. `python -m bench calibrate --resume` does the rest.",
            "",
        ]
    if wall := calibration.get("wall_clock"):
        lines += _wall_clock_lines(wall, design, config)
    if history := calibration.get("history"):
        lines += history_lines(history, config)
    if wall:
        lines += find_lines(wall, design, config)
    if counts := calibration.get("instructions"):
        lines += _count_lines(counts, config)
    return lines


def _wall_clock_lines(wall: dict, design: Design, config: dict) -> list[str]:
    aa = wall["aa"]
    alarms, upper = _alarms(aa)
    names = list(aa[0]["estimates"]) if aa else []
    bands = {name: Band(1.0, config["minimum_effects"].get(name, config["default_minimum_effect"])) for name in names}
    pooled = {name: [v for run in aa for v in run.get("log_ratios", {}).get(name, [])] for name in names}
    lines = [
        "### Wall clock: A/A, whole gate (all benchmarks)",
        "",
        f"- {len(aa)} runs, **{alarms} with any false alarm** (rate {alarms / max(len(aa), 1):.0%}, "
        f"95% upper bound {upper:.1%}); {_met(alarms == 0 and len(aa) >= AA_RUNS)}",
    ]
    if aa:
        seconds = [r["seconds"] for r in aa]
        lines.append(
            f"- time per whole-gate run (wall clock only): **median {statistics.median(seconds):.0f} s**, "
            f"longest {max(seconds):.0f} s"
        )
    power: dict[str, float] = {}
    if all(len(values) >= design.looks[0] for values in pooled.values()) and pooled:
        worst, _ = resampled_rates(pooled, math.log1p(config["default_minimum_effect"]), design, bands, RESAMPLED_RUNS)
        _, power = resampled_rates(pooled, math.log(1.10), design, bands, RESAMPLED_RUNS, seed=1)
        counted = sum(len(v) for v in pooled.values())
        lines += [
            "- the rule's false-alarm rate with every benchmark's true ratio at exactly 1 + e (the worst case the",
            f"  proof allows), resampling the {counted} measured A/A processes: **{worst:.2%}** of "
            f"{RESAMPLED_RUNS:,} simulated gates (nominal {config['false_alarm_rate']:.0%})",
        ]
    lines += [
        "",
        "| benchmark | false alarms | median estimate | processes (median, most) | median smallest slowdown caught "
        "| resampled detection of +10% |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        failures = sum(name in run["failed"] for run in aa)
        estimate = statistics.median(run["estimates"][name] for run in aa)
        detectable = statistics.median(run["detectable"][name] for run in aa)
        used = [run["processes"][name] for run in aa]
        simulated = f"{power[name]:.1%}" if name in power else "-"
        lines.append(
            f"| `{name}` | {failures}/{len(aa)} | {estimate:.4f} | {statistics.median(used):.0f}, {max(used)} | "
            f"+{detectable:.1%} | {simulated} |"
        )
    lines += [
        "",
        "### Wall clock: planted slowdowns, whole gate, every method slowed at once",
        "",
        "The planted copy wraps each method (`bench.gate.planted`, `every_method`): each call busy-waits the",
        "planted share of its own duration (a planted method called inside another adds nothing). So one run",
        'tries every benchmark. "Measured" is the median over runs of the gate\'s estimate: what the plant',
        "really cost, to be read against the share planted.",
        "",
        "| benchmark | planted | median measured | median processes | runs | detected | rate | 95% interval | target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    rows: dict[tuple[str, int], list[tuple[bool, float, int]]] = {}
    for run in wall["planted"]:
        for name, estimate in run["estimates"].items():
            rows.setdefault((name, run["percent"]), []).append(
                (name in run["failed"], estimate, run["processes"][name])
            )
    for (name, percent), row in sorted(rows.items(), key=lambda item: (names.index(item[0][0]), item[0][1])):
        detected = sum(caught for caught, _, _ in row)
        low, high = clopper_pearson(detected, len(row))
        target = {10: detected / len(row) >= 0.95, 25: detected == len(row)}.get(percent)
        lines.append(
            f"| `{name}` | +{percent}% | {statistics.median(e for _, e, _ in row):.3f} | "
            f"{statistics.median(n for _, _, n in row):.0f} | {len(row)} | {detected} | "
            f"{detected / len(row):.0%} | {low:.0%}..{high:.0%} | {'-' if target is None else _met(target)} |"
        )
    gate_seconds = sum(run["seconds"] for run in (*wall["aa"], *wall["planted"]))
    lines += [
        "",
        f"Wall-clock calibration took {gate_seconds / 60:.1f} minutes of gate runs "
        f"({len(wall['aa'])} A/A, {len(wall['planted'])} planted), over every resumed session.",
        "",
    ]
    return lines


def _count_lines(counts: dict, config: dict) -> list[str]:
    aa = counts["aa"]
    alarms, upper = _alarms(aa)
    lines = [
        "### Deterministic counts (part of `--against REV` by default, quick sizes)",
        "",
        f"Instructions per call fail above +{config['instruction_tolerance']:.1%}; a system call fails on any "
        f"increase per call, one of {', '.join(config.get('syscall_wandering', []))} above "
        f"+{config.get('syscall_wandering_tolerance', 0):g} (pyproject.toml). A/A: {len(aa)} runs, each in fresh",
        f"processes with the environment and the temporary folder's name grown by another amount (0, "
        f"{PADDING_STEP}, {2 * PADDING_STEP} ... characters; both sides of a run alike).",
        "",
        f"- **{alarms} runs with any false alarm** (95% upper bound {upper:.1%})",
    ]
    if aa:
        lines.append(f"- time per count run (both sides): median {statistics.median(r['seconds'] for r in aa):.0f} s")
    lines += [
        "",
        "| benchmark | largest A/A difference | planted +2%: work per call | measured growth | caught |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    planted = {row["benchmark"]: row for row in counts["planted"]}
    for name in aa[0]["growth"] if aa else planted:
        largest = max(abs(run["growth"][name]) for run in aa) if aa else math.nan
        found = planted.get(name)
        work = f"{found['iterations']:,} {found.get('work', 'loop iterations')}" if found else ""
        tail = f"{work} | {found['growth']:+.3%} | {_planted_verdict(found)}" if found else "- | - | -"
        lines.append(f"| `{name}` | {largest:.4%} | {tail} |")
    lines += ["", *_syscall_aa_lines(aa), *_syscall_planted_lines(counts.get("syscalls_planted", []))]
    rows = [*aa, *counts["planted"], *counts.get("syscalls_planted", [])]
    lines += [f"Count calibration took {sum(row['seconds'] for row in rows) / 60:.1f} minutes of count runs.", ""]
    return lines


def _syscall_aa_lines(aa: list[dict]) -> list[str]:
    """Which system calls repeated exactly between the two sides of every A/A run, and which moved."""
    moved: dict[str, float] = {}
    seen: set[str] = set()
    for run in aa:
        for sides in run.get("syscalls", {}).values():
            mine, theirs = sides["candidate"] or {}, sides["reference"] or {}
            for call in set(mine) | set(theirs):
                seen.add(call)
                difference = abs(mine.get(call, 0.0) - theirs.get(call, 0.0))
                if difference:
                    moved[call] = max(moved.get(call, 0.0), difference)
    if not seen:
        return ["(No system calls in these A/A runs: strace was not installed.)", ""]
    exact = sorted(seen - set(moved))
    wandered = ", ".join(f"{call} (up to {value:g} per call)" for call, value in sorted(moved.items())) or "none"
    return [
        f"System calls per call, A/A: exactly the same on both sides of every run: {', '.join(exact)}. "
        f"Moved: {wandered}.",
        "",
    ]


def _syscall_planted_lines(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = [
        "| benchmark | planted | system calls per call that changed | instructions | caught |",
        "| --- | --- | --- | ---: | --- |",
    ]
    for row in rows:
        verdict = "met" if row["caught"] else "NOT met"
        lines.append(
            f"| `{row['benchmark']}` | one more `{row['call']}` | {', '.join(row['changed']) or 'none'} | "
            f"{row['instruction_growth']:+.3%} | {verdict} |"
        )
    return [*lines, ""]


def _alarms(runs: list[dict]) -> tuple[int, float]:
    """Runs with any false alarm, and the Clopper-Pearson 95% upper bound of that rate."""
    alarms = sum(bool(run["failed"]) for run in runs)
    return alarms, clopper_pearson(alarms, len(runs))[1] if runs else math.nan


def _planted_verdict(row: dict) -> str:
    """Met only where the plant really measured about +2%: a larger one caught proves less."""
    if not row["caught"]:
        return "NOT met"
    if not within_band(row["growth"]):
        return f"caught, but the plant measured {row['growth']:+.1%}: not shown for +2%"
    return "met"


def within_band(growth: float) -> bool:
    """At most the band the planted-work search aims for: a larger plant caught proves less than +2%."""
    return growth <= INSTRUCTION_PLANTED_GROWTH * instructions.PLANTED_BAND


def _met(met: bool) -> str:
    return "met" if met else "NOT met"
