"""Calibrating the rule (`python -m bench calibrate`): how often gate, history and find cry wolf, and how often they
catch a real slowdown, from runs of the unchanged store and with planted slowdowns.

Whole-gate A/A runs of the working tree against HEAD, then slowdowns planted on every method; history's A/A
commits (the working tree beside HEAD, at history's settings, looked at further as history would); then
instruction counts A/A and planted. Every run is saved as it ends, so an interrupted calibration resumes.
results/GATE.md (bench.report.gate_report) is regenerated from what was saved, with history's and find's rates
replayed on those processes.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, UsageError
from bench.gate import check as gate
from bench.gate import counts as gate_counts
from bench.gate import instructions
from bench.gate.config import GateConfig, load_config
from bench.gate.planted import (
    EVERY_METHOD,
    SYSCALL_PLANTS,
    method_timed_by,
    plant_slowdown_in_source,
    plant_syscall_in_source,
    plant_work_in_source,
)
from bench.gate.timed import DEFAULT_CANDIDATE, Timing
from bench.history import points as history_points
from bench.model import git, location, progress, results
from bench.model.fixtures import Fixtures
from bench.model.operations import OPERATIONS, build_fixtures, case_name, cases, find_case
from bench.model.verdict import Verdict
from bench.report.gate_report import (
    AA_RUNS,
    INSTRUCTION_PLANTED_GROWTH,
    PADDING_STEP,
    within_band,
    write_gate_report,
)
from bench.report.history_rates import HISTORY_AA_RUNS, HISTORY_COMMITS, history_design
from bench.rule import Band, judge_sequential
from bench.runners import instructions as counting
from bench.runners.interleaved import Arm, Arms, Engine, Timings
from bench.stores import revision
from bench.stores.snapshot import Snapshot

# planted percent: whole-gate runs with it planted on every method, in this order (the targets first)
PLANTED_RUNS: Final = {10: 20, 25: 3, 5: 3}  # whole-gate runs, each tries all 9 benchmarks
INSTRUCTION_AA_RUNS: Final = 10


@dataclass(frozen=True)
class Plan:
    """What a calibration against a revision runs: the gate's timing, which benchmarks, how many runs of each kind."""

    timing: Timing = field(default_factory=Timing)
    only: tuple[str, ...] = ()
    aa_runs: int = AA_RUNS
    planted_runs: Mapping[int, int] = field(default_factory=lambda: dict(PLANTED_RUNS))
    instruction_runs: int = INSTRUCTION_AA_RUNS
    history_runs: int = HISTORY_AA_RUNS

    def __post_init__(self) -> None:
        if min(self.aa_runs, self.instruction_runs, self.history_runs, *self.planted_runs.values()) < 0:
            raise UsageError("run counts must not be negative")
        for name in self.only:
            find_case(name)  # a UsageError naming it

    def chosen(self, name: str) -> bool:
        return not self.only or name in self.only

    def settings(self) -> dict:
        """What a resumed calibration must have been run with, as its JSON records it."""
        t = self.timing
        only = list(self.only) or None
        return {"only": only, "processes": t.processes, "rounds": t.rounds, "max_reruns": t.max_reruns, "seed": t.seed}


# --- against a revision: whole-gate A/A, planted regressions, instruction counts -----------------


def _require_store_is(reference: Snapshot) -> None:
    """An A/A against `reference` is only one if the working tree's store is the reference's."""
    repo, folder = git.repository(), location.DEFAULT_FOLDER
    if changed := git.changed(repo, [folder]):
        raise UsageError(
            f"{folder}/ differs from HEAD ({changed[0].strip()} ...): "
            "commit or stash it, the A/A runs compare the working tree with the reference"
        )
    if not git.succeeds(repo, "diff", "--quiet", reference.commit, "HEAD", "--", folder):
        raise UsageError(f"{folder}/ at HEAD differs from the calibration's reference {reference.label}")


def _reference(rev: str) -> Snapshot:
    """This repository's optimized store at rev: what the A/A runs compare the working tree's with."""
    return revision.at(git.repository(), rev, location.Location(location.DEFAULT_STORE, location.DEFAULT_CLASS))


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _working_tree(percent: int = 0) -> Arm:
    """The working tree's optimized store loaded from its files, as the gate loads a registered store; with a percent,
    its source planted with that slowdown in every method (bench.gate.planted), as a commit would carry it."""
    here = revision.registered(DEFAULT_CANDIDATE, git.repository())
    assert here is not None  # optimized is registered, in storage/
    if percent == 0:
        return Arm.of(here)
    module = here.store.module
    planted = plant_slowdown_in_source(here.modules()[module], EVERY_METHOD, percent)
    return Arm.of(here.with_source(module, planted, f"every method +{percent}%"))


def _gate_run(names: list[str], candidate: Arm, head: Snapshot, config: GateConfig, plan: Plan) -> dict:
    """One whole gate's wall-clock verdicts, with every process's log ratio (the resampling in GATE.md uses them)."""
    started = time.monotonic()
    outcomes = gate.judge_against(names, candidate, head, config, plan.timing)
    for outcome in outcomes:
        say(gate.against_line(outcome, head, None))
    return {
        "candidate": candidate.snapshot.label if candidate.snapshot else candidate.spec,
        "failed": [o.name for o in outcomes if o.fails],
        "estimates": {o.name: o.interval.estimate for o in outcomes if o.interval},
        "detectable": {o.name: o.detectable for o in outcomes if o.detectable is not None},
        "processes": {o.name: o.processes for o in outcomes},
        "log_ratios": {o.name: o.timings.log_ratios("reference") for o in outcomes if o.timings is not None},
        "seconds": time.monotonic() - started,
    }


def wall_clock_calibration(
    wall: dict, head: Snapshot, config: GateConfig, plan: Plan, checkpoint: Callable[[], None]
) -> None:
    """Whole-gate A/A runs, then each operation's benchmarks with planted slowdowns; skips runs already saved."""
    names = [case_name(op, size) for op, size in cases() if plan.chosen(case_name(op, size))]
    aa = wall.setdefault("aa", [])
    planted = wall.setdefault("planted", [])
    with progress.task(f"A/A gate runs against {head.label}", max(plan.aa_runs - len(aa), 0)) as step:
        for run in range(len(aa), plan.aa_runs):
            step(f"A/A run {run + 1}/{plan.aa_runs}")
            aa.append(_gate_run(names, _working_tree(), head, config, plan))
            checkpoint()
    for percent, runs in plan.planted_runs.items():
        _planted_runs_of(percent, runs, planted, head, config, plan, checkpoint)


def _planted_runs_of(
    percent: int,
    runs: int,
    planted: list[dict],
    head: Snapshot,
    config: GateConfig,
    plan: Plan,
    checkpoint: Callable[[], None],
) -> None:
    """Whole-gate runs with +percent planted on every method at once: each run tries every benchmark."""
    names = [case_name(op, size) for op, size in cases() if plan.chosen(case_name(op, size))]
    candidate = _working_tree(percent)
    done = sum(1 for row in planted if row["percent"] == percent)
    with progress.task(f"gate runs with +{percent}% planted", max(runs - done, 0)) as step:
        for run in range(done, runs):
            step(f"+{percent}% run {run + 1}/{runs}")
            planted.append({"percent": percent, **_gate_run(names, candidate, head, config, plan)})
            checkpoint()


def history_calibration(
    part: dict, head: Snapshot, config: GateConfig, plan: Plan, checkpoint: Callable[[], None]
) -> None:
    """A/A commits at history's settings: the working tree's store beside HEAD's (the same code) and the baseline, in
    the same processes, each step looked at further only where history would (its estimate past the band), at the
    level of a history of HISTORY_COMMITS commits. Their per-process step values are what GATE.md replays."""
    names = [name for name in history_points.names_of(None) if plan.chosen(name)]
    design = history_design(config)
    tests = (HISTORY_COMMITS - 1) * len(names)
    aa = part.setdefault("aa", [])
    engine = Engine(Arms(_working_tree(), reference=Arm.of(head)), plan.timing.seed, history_points.DEFAULT_ROUNDS)
    bands = {name: Band(1.0, config.minimum_effect(name)) for name in names}
    with progress.task(f"history A/A commits against {head.label}", max(plan.history_runs - len(aa), 0)) as step:
        for run in range(len(aa), plan.history_runs):
            step(f"history A/A commit {run + 1}/{plan.history_runs}")
            started = time.monotonic()
            pooled: dict[str, Timings] = {}

            def more(wanted: Mapping[str, int], pooled: dict[str, Timings] = pooled) -> dict[str, list[float]]:
                found = engine.measure_each(wanted)
                for name, timings in found.items():
                    pooled[name] = pooled[name] + timings if name in pooled else timings
                return {name: t.log_ratios("reference") for name, t in found.items()}

            decided = judge_sequential(bands, more, design, pursue=lambda _, d: d.past_band, tests=tests)
            named = [name for name, d in decided.items() if d.verdict in (Verdict.REGRESSED, Verdict.IMPROVED)]
            say(f"history A/A commit {run + 1}: " + (f"named a step in {named}" if named else "no step named"))
            aa.append(
                {
                    "timings": {name: timings.to_json() for name, timings in pooled.items()},
                    "named": named,
                    "seconds": time.monotonic() - started,
                }
            )
            checkpoint()


def instruction_calibration(
    counts: dict, head: Snapshot, config: GateConfig, plan: Plan, checkpoint: Callable[[], None]
) -> None:
    """Count A/A runs (each in another environment size and temporary path), then per operation +2% instructions
    planted, and an extra stat and an extra fsync planted."""
    names = [name for name in counting.selected_names(True, None) if plan.chosen(name)]
    aa = counts.setdefault("aa", [])
    planted = counts.setdefault("planted", [])
    syscalls = counts.setdefault("syscalls_planted", [])
    for run in range(len(aa), plan.instruction_runs):
        padding = run * PADDING_STEP
        started = time.monotonic()
        say(f"count A/A run {run + 1}/{plan.instruction_runs} (padding {padding})")
        pairs = counting.measure_against(names, DEFAULT_CANDIDATE, head, plan.timing.seed, paddings=(padding, padding))
        verdicts = {name: gate_counts.judge_counts(name, pair, config) for name, pair in pairs.items()}
        aa.append(
            {
                "padding": padding,
                "growth": {name: pair.growth for name, pair in pairs.items()},
                "syscalls": {
                    name: {"candidate": pair.candidate.by_syscall, "reference": pair.reference.by_syscall}
                    for name, pair in pairs.items()
                },
                "failed": [name for name, v in verdicts.items() if v.fails],
                "seconds": time.monotonic() - started,
            }
        )
        checkpoint()
    for name in names:
        if any(row["benchmark"] == name for row in planted):
            continue
        planted.append(_instruction_planted(name, head, config, plan))
        checkpoint()
    for name in names:
        for call in SYSCALL_PLANTS:
            if any(row["benchmark"] == name and row["call"] == call for row in syscalls):
                continue
            syscalls.append(_syscall_planted(name, call, head, config, plan))
            checkpoint()


def _syscall_planted(name: str, call: str, head: Snapshot, config: GateConfig, plan: Plan) -> dict:
    """One extra system call planted as the first line of the method `name` times, counted against HEAD's."""
    operation, _ = find_case(name)
    method = method_timed_by(operation.name)
    started = time.monotonic()
    store_module = head.store.module
    altered = head.with_source(store_module, plant_syscall_in_source(head.modules()[store_module], method, call), call)
    say(f"counting {name} with an extra {call} planted")
    pair = counting.measure_against([name], altered, head, plan.timing.seed)[name]
    verdict = gate_counts.judge_counts(name, pair, config)
    return {
        "benchmark": name,
        "method": method,
        "call": call,
        "changed": [change.text for change in verdict.syscalls],
        "failing": [change.name for change in verdict.syscalls if change.verdict.fails],
        "instruction_growth": pair.growth,
        "caught": verdict.fails,
        "seconds": time.monotonic() - started,
    }


def _instruction_planted(name: str, head: Snapshot, config: GateConfig, plan: Plan) -> dict:
    """+1% planted in the committed source of the method `name` times (one line), against HEAD's count.

    The line is a loop; where even one iteration overshoots the band, bare assignments instead.
    """
    operation, _ = find_case(name)
    method = method_timed_by(operation.name)
    started = time.monotonic()
    store_module = head.store.module
    source = head.modules()[store_module]
    calls = counting.calls_against(name)
    build_fixtures(Fixtures(seed=plan.timing.seed), [find_case(name)])
    base = counting.count(name, head.spec(), calls, plan.timing.seed, at=head)
    for work in ("loop iterations", "assignments"):
        counted: dict[int, counting.Count] = {}

        def count_with(amount: int, work: str = work, counted: dict[int, counting.Count] = counted) -> float:
            planted = plant_work_in_source(source, method, amount, unrolled=work == "assignments")
            altered = head.with_source(store_module, planted, f"{work.split()[0]}{amount}")
            say(f"counting {name} with {amount} planted {work}")
            counted[amount] = counting.count(name, altered.spec(), calls, plan.timing.seed, at=altered)
            return counted[amount].instructions

        amount, probes = instructions.planted_iterations(base.instructions, INSTRUCTION_PLANTED_GROWTH, count_with)
        if within_band(probes[amount] / base.instructions - 1):
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
        "caught": gate_counts.instruction_verdict(pair, config.instruction_tolerance) is Verdict.REGRESSED,
        "seconds": time.monotonic() - started,
    }


# --- the calibration's entry points, each what bench.commands.calibrate calls ---------------------------


def calibrate_against(
    *,
    plan: Plan,
    json_path: Path,
    output: Path,
    resume: bool,
    wall_clock: bool = True,
    counts: bool = True,
    history: bool = True,
) -> ExitCode:
    """Runs what `json_path` does not hold yet (everything, unless `resume`), saving after every run; then GATE.md."""
    must_be_files(json_path, output)
    config = load_config()
    if resume and json_path.is_file():
        calibration = _resumable(json_path, plan.settings(), config)
        head = _reference(calibration["reference"])
        say(f"resuming {results.shown(json_path)}: the runs it holds are kept")
    else:
        head = _reference("HEAD")
        calibration = {
            "reference": head.commit,
            "settings": plan.settings(),
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
        results.write_json_atomically(json_path, calibration)

    if wall_clock:
        _timed_part(
            calibration, "wall_clock", lambda part: wall_clock_calibration(part, head, config, plan, checkpoint)
        )
    if history:
        _timed_part(calibration, "history", lambda part: history_calibration(part, head, config, plan, checkpoint))
    if counts:
        _timed_part(
            calibration, "instructions", lambda part: instruction_calibration(part, head, config, plan, checkpoint)
        )
    calibration["complete"] = _complete(calibration, plan)
    checkpoint()
    print(write_gate_report(output, against=json_path))
    return ExitCode.OK


def must_be_files(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            raise UsageError(f"{results.shown(path)} is a folder: --json and --output name files")


def _timed_part(calibration: dict, key: str, body: Callable[[dict], None]) -> None:
    """Runs one part of the calibration; its seconds add up over resumed sessions."""
    part = calibration.setdefault(key, {"seconds": 0.0})
    started, before = time.monotonic(), part["seconds"]
    try:
        body(part)
    finally:
        part["seconds"] = before + time.monotonic() - started


def _complete(calibration: dict, plan: Plan) -> bool:
    wall, counts = calibration.get("wall_clock", {}), calibration.get("instructions", {})
    history = calibration.get("history", {})
    chosen = [op for op in OPERATIONS if any(plan.chosen(case_name(op, size)) for size in op.sizes)]
    planted_done = all(
        sum(1 for row in wall.get("planted", []) if row["percent"] == percent) >= runs
        for percent, runs in plan.planted_runs.items()
    )
    return (
        len(wall.get("aa", [])) >= plan.aa_runs
        and planted_done
        and len(counts.get("aa", [])) >= plan.instruction_runs
        and len(history.get("aa", [])) >= plan.history_runs
        and len(counts.get("planted", [])) >= len(chosen)
        and len(counts.get("syscalls_planted", [])) >= len(chosen) * len(SYSCALL_PLANTS)
    )


def _config_record(config: GateConfig) -> dict:
    return asdict(config) | {"minimum_effects": dict(config.minimum_effects)}


def _resumable(path: Path, settings: dict, config: GateConfig) -> dict:
    """The saved partial calibration, if it was run with these settings and this decision rule."""
    calibration = results.AGAINST_CALIBRATION.load(path)  # unreadable: a UsageError naming the file
    if calibration.get("settings") != settings:
        raise UsageError(f"--resume: {results.shown(path)} was run with {calibration.get('settings')}, not {settings}")
    if calibration.get("config") != json.loads(json.dumps(_config_record(config))):  # as JSON saved it
        raise UsageError(f"--resume: {results.shown(path)} was run with another decision rule (pyproject.toml)")
    return calibration
