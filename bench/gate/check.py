"""`python -m bench gate`: the CI perf gate, on ratios measured in the same worker processes.

Against a revision (`--against REV`, what CI runs). The store at REV (loaded from git by
bench.model.snapshot), the working tree's store and the frozen baseline are timed interleaved, in a
rotating order, in the same fresh worker processes. `--store PATH[:Class]` names the store in another
repository's layout (the application's src/astraguard/hil/metrics/storage.py); both sides are then that
file, as committed at REV and as it is in the work tree. Each process gives one ratio working tree / REV
per benchmark; the verdict is on their median with its bootstrap interval over processes
(bench.model.stats). Both sides build their inputs with their own revision's collector class; the
baseline and the seeded fixture data are shared.

The decision rule (settings in pyproject.toml, [tool.bench.gate]):

- Every benchmark has a minimum effect e (default 5%): a slowdown below it is not a regression.
- The interval's confidence is 1 - a/m for m benchmarks in the run, a the false-alarm rate for
  the whole run (default 5%): Bonferroni, so with nothing changed the chance that any interval lies
  wholly above 1, let alone above 1 + e, is at most a.
- regressed: the whole interval above 1 + e; improved: wholly below 1 - e; unchanged: wholly
  inside; otherwise inconclusive, and more processes are pooled (up to --max-reruns times).
- A regression, or an inconclusive estimate still above 1 + e after the re-runs, fails only if fresh
  processes show it again (a second, independent look): one burst on a shared machine must not fail
  CI, a real regression persists.
- The rate is nominal: a percentile bootstrap over a handful of processes is somewhat liberal, and
  the same code loaded twice need not time alike. `nox -s calibrate` measures the real
  false-alarm and detection rates (results/GATE.md).
- Each line states the smallest slowdown this run would have caught, (1 + e) * estimate / low - 1:
  the interval shifted up by that much lies wholly above the limit. So an "unchanged" says what it
  rules out.

Against saved ratios (no --against). The ratio candidate / baseline is compared with the ratio
saved in results/gate/saved_ratios.json (written by `--rebaseline`), with a tolerance from the
spread of repeated runs. It carries drift between days and machines; with --against the same
comparison is printed beside each verdict, two-sided and for information only.

Exit codes: 0 pass; 1 a regression (saved ratios: or a saved benchmark not measured now, or a
measured one not saved), or a working tree's store that cannot serve (it does not import, lacks a
method, is async, changed a signature, or answers wrongly); 2 usage error: a bad option, a reference
revision that cannot be loaded or cannot serve, or saved files whose provenance makes the comparison
meaningless.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import platform
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Final

import storage
from bench.errors import ExitCode, RevisionError, StoreUnusable, UsageError
from bench.gate import instructions
from bench.model import git, progress, results, snapshot
from bench.model.candidates import resolve
from bench.model.fixtures import FORMAT_VERSION, Fixtures
from bench.model.operations import AnswerCheckError, Case, case_name, cases, find_case, prepare
from bench.model.options import (
    add_only_option,
    add_publish_options,
    add_quick_option,
    add_seed_option,
    add_store_options,
    collector_location,
    fixtures_from,
    store_location,
)
from bench.model.publish import Row, Summary, publish
from bench.model.results import PYPROJECT
from bench.model.snapshot import Location, Snapshot
from bench.model.stats import CONFIDENCE, RatioInterval, ratio_interval
from bench.model.verdict import Verdict
from bench.runners import instructions as counting

HELP: Final = (
    "Fail when the working tree's store is slower than the store at --against REV, both timed "
    "interleaved with the frozen baseline in the same fresh worker processes; without --against, "
    "when the candidate/baseline ratio regresses past the one saved in results/gate/saved_ratios.json."
)
SAVED_RATIOS: Final = results.SAVED_RATIOS.path
DEFAULT_CANDIDATE: Final = "optimized"
DEFAULT_PROCESSES: Final = 6
DEFAULT_ROUNDS: Final = 9  # interleaved timing rounds per process (odd: the median is one of them)
DEFAULT_SAMPLE_SECONDS: Final = 0.02  # each timing round lasts about this long, per store
DEFAULT_MAX_RERUNS: Final = 2
REBASELINE_REPEATS: Final = 5
# Tolerance = this many times the largest deviation of a repeat from the saved ratio, over the
# rebaseline's repeats of unchanged code. With 5 repeats the largest deviation sits near the 80th
# percentile of run-to-run drift; doubling it is checked, not assumed: nox -s calibrate
# measures the false-alarm rate it gives (results/GATE.md).
SAVED_RATIO_TOLERANCE_PER_SPREAD: Final = 2.0


# --- the decision rule's settings ----------------------------------------------------------------


@dataclass(frozen=True)
class GateConfig:
    """[tool.bench.gate] of pyproject.toml: the decision rule's numbers, in one place."""

    false_alarm_rate: float  # nominal, for the whole run: all benchmarks together
    default_minimum_effect: float
    minimum_effects: Mapping[str, float]  # per benchmark, where it differs from the default
    instruction_tolerance: float  # --against --instructions: relative growth that still passes

    def minimum_effect(self, name: str) -> float:
        return self.minimum_effects.get(name, self.default_minimum_effect)

    def confidence(self, benchmarks: int) -> float:
        """Each interval's confidence: Bonferroni over the benchmarks of one run."""
        return 1 - self.false_alarm_rate / benchmarks


def load_config(path: Path = PYPROJECT) -> GateConfig:
    """Reads [tool.bench.gate]; a missing, unknown or out-of-range setting is a usage error naming it."""
    try:
        section = tomllib.loads(path.read_text())["tool"]["bench"]["gate"]
    except FileNotFoundError as e:
        raise UsageError(f"no {path}: the gate's decision rule is configured there") from e
    except KeyError as e:
        raise UsageError(f"{path} has no [tool.bench.gate] section (the decision rule's settings)") from e
    known = {"false_alarm_rate", "minimum_effect", "minimum_effect_per_benchmark", "instruction_tolerance"}
    if unknown := set(section) - known:
        raise UsageError(f"[tool.bench.gate] in {path}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    if missing := known - {"minimum_effect_per_benchmark"} - set(section):
        raise UsageError(f"[tool.bench.gate] in {path}: missing {sorted(missing)}")
    per_benchmark = dict(section.get("minimum_effect_per_benchmark", {}))
    all_names = {case_name(op, size) for op, size in cases()}
    if strangers := set(per_benchmark) - all_names:
        raise UsageError(f"[tool.bench.gate.minimum_effect_per_benchmark] names no benchmark: {sorted(strangers)}")
    fractions = {key: section[key] for key in known - {"minimum_effect_per_benchmark"}} | per_benchmark
    for key, value in fractions.items():
        if not (isinstance(value, float) and 0 < value < 1):
            raise UsageError(f"[tool.bench.gate] {key} = {value!r} in {path}: want a fraction between 0 and 1")
    return GateConfig(
        section["false_alarm_rate"], section["minimum_effect"], per_benchmark, section["instruction_tolerance"]
    )


# --- measuring, in worker processes --------------------------------------------------------------


@dataclass(frozen=True)
class Arm:
    """One store timed in the worker: a storage.resolve() name, or a store loaded from a snapshot."""

    spec: str
    snapshot: Snapshot | None = None

    @classmethod
    def of(cls, loaded: Snapshot) -> Arm:
        return cls(loaded.spec(), loaded)


@dataclass(frozen=True)
class Arms:
    """What one worker process times: the baseline and the candidate, and the store at a revision if any."""

    candidate: Arm
    reference: Arm | None = None
    baseline: Arm = Arm("baseline")

    def timed(self) -> tuple[Arm, ...]:
        return (self.baseline, self.candidate) + ((self.reference,) if self.reference else ())


@dataclass(frozen=True)
class ProcessTiming:
    """One worker process's medians, per call: the unit of replication."""

    candidate_s: float
    baseline_s: float
    reference_s: float | None = None  # the store at --against REV


def round_order(arms: int, round_number: int) -> list[int]:
    """The arms' order in one timing round: ABBA for two, a Williams design for three.

    Rotation puts each arm in each position once every `arms` rounds; for an odd count, every other
    cycle is reversed, so each arm also follows each other arm equally often (A B C, B C A, C A B,
    C B A, A C B, B A C): drift and the previous store's cache footprint hit every arm alike.
    """
    shift = round_number % arms
    order = [(shift + i) % arms for i in range(arms)]
    if arms % 2 == 1 and (round_number // arms) % 2 == 1:
        order.reverse()
    return order


def _loops_for(case: Case, sample_seconds: float) -> int:
    """Doubles the loop count until one timing lasts sample_seconds (pyperf's calibration, simplified)."""
    loops = 1
    while loops < 1 << 20:
        if case.time(loops) >= sample_seconds:
            return loops
        loops *= 2
    return loops


def _prepare_arm(name: str, arm: Arm, workdir: Path, fixtures: Fixtures, reference: bool) -> Case:
    """The arm's case, set up and checked; a snapshot's failed check names it: RevisionError for the reference."""
    operation, size = find_case(name)
    if arm.snapshot is None:
        return prepare(operation, size, storage.resolve(arm.spec), workdir, fixtures)
    store_class, _ = snapshot.load(arm.snapshot)
    try:
        return prepare(operation, size, store_class, workdir, fixtures)
    except AnswerCheckError as e:
        reason = f"the store at {arm.snapshot.label} fails the answer check: {e}"
        raise RevisionError(reason) if reference else StoreUnusable(reason) from e


def time_in_this_process(name: str, arms: Arms, seed: int, rounds: int, sample_seconds: float) -> ProcessTiming:
    """Sets up every arm here, then times them in rotating order so drift hits all alike."""
    fixtures = Fixtures(seed=seed)
    timed = arms.timed()
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as scratch:
        prepared = []
        for index, arm in enumerate(timed):
            workdir = Path(scratch, f"arm{index}")
            workdir.mkdir()
            prepared.append(_prepare_arm(name, arm, workdir, fixtures, reference=arm is arms.reference))
        loops = [_loops_for(case, sample_seconds) for case in prepared]
        per_call: list[list[float]] = [[] for _ in timed]
        for round_number in range(rounds):
            for index in round_order(len(timed), round_number):
                per_call[index].append(prepared[index].time(loops[index]) / loops[index])
    medians = [statistics.median(values) for values in per_call]
    return ProcessTiming(medians[1], medians[0], medians[2] if len(medians) > 2 else None)


Measure = Callable[[list[str], int], dict[str, list[ProcessTiming]]]


def measure_interleaved(arms: Arms, seed: int, rounds: int, sample_seconds: float) -> Measure:
    """A measure(names, processes) that runs each process fresh (spawned), benchmarks interleaved across them."""

    def measure(names: list[str], processes: int) -> dict[str, list[ProcessTiming]]:
        results: dict[str, list[ProcessTiming]] = {name: [] for name in names}
        # One process per task, one task at a time: no two timings compete for the 2 cores.
        with (
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool,
            progress.task(f"timing {len(names)} benchmarks", len(names) * processes) as step,
        ):
            for replicate in range(processes):
                for name in names:
                    step(f"{name} process {replicate + 1}/{processes}")
                    timing = pool.submit(time_in_this_process, name, arms, seed, rounds, sample_seconds)
                    results[name].append(timing.result())
        return results

    return measure


# --- deciding --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """The ratios that mean no change: ratio * (1 +- tolerance). A saved ratio's, or 1 +- e against a revision."""

    ratio: float
    tolerance: float  # a fraction of ratio

    @property
    def upper(self) -> float:
        return self.ratio * (1 + self.tolerance)

    @property
    def lower(self) -> float:
        return self.ratio * (1 - self.tolerance)


IntervalOf = Callable[[Sequence[ProcessTiming]], RatioInterval]


@dataclass
class Outcome:
    """One benchmark's verdict: regressed, improved, unchanged, or inconclusive after every re-run."""

    name: str
    verdict: Verdict
    interval: RatioInterval | None
    band: Band | None
    processes: int
    timings: list[ProcessTiming] = field(default_factory=list)
    note: str = ""  # how re-runs or the confirmation settled it

    @property
    def fails(self) -> bool:
        return self.verdict.fails

    def line(self) -> str:
        """The saved-ratio comparison's line."""
        if self.verdict is Verdict.MISSING:
            return f"MISSING    {self.name}: in the saved ratios but not measured now"
        if self.verdict is Verdict.UNSAVED:
            return f"UNSAVED    {self.name}: measured {_ratio_text(self.interval)} but has no saved ratio (rebaseline)"
        band = self.band
        assert band is not None and self.interval is not None
        return (
            f"{self.verdict.name:<11}{self.name}: candidate/baseline {_ratio_text(self.interval)}, "
            f"saved {band.ratio:.4f} (tolerance {band.tolerance:.1%}, regression above {band.upper:.4f}), "
            f"{self.processes} processes" + (f"; {self.note}" if self.note else "")
        )


def _ratio_text(interval: RatioInterval | None) -> str:
    if interval is None:
        return "-"
    return f"{interval.estimate:.4f} [{interval.low:.4f}, {interval.high:.4f}]"


def cost_ratio(timings: Sequence[ProcessTiming], confidence: float = CONFIDENCE) -> RatioInterval:
    """Median over processes of candidate/baseline, with its bootstrap interval over processes."""
    # stats.ratio_interval gives baseline/candidate speedups; handing it the pairs swapped gives cost ratios.
    return ratio_interval([t.baseline_s for t in timings], [t.candidate_s for t in timings], confidence=confidence)


def _reference_times(timings: Sequence[ProcessTiming]) -> list[float]:
    times = [t.reference_s for t in timings]
    if any(t is None for t in times):
        raise ValueError("timings without a reference arm: they were not measured --against a revision")
    return [t for t in times if t is not None]


def against_ratio(timings: Sequence[ProcessTiming], confidence: float = CONFIDENCE) -> RatioInterval:
    """Median over processes of working tree / revision, with its bootstrap interval over processes."""
    return ratio_interval(_reference_times(timings), [t.candidate_s for t in timings], confidence=confidence)


def reference_cost_ratio(timings: Sequence[ProcessTiming]) -> RatioInterval:
    """The revision's store / the frozen baseline, from the same processes."""
    return ratio_interval([t.baseline_s for t in timings], _reference_times(timings))


def decide(interval: RatioInterval, band: Band) -> Verdict:
    """regressed / improved only when the whole interval is past the band; wholly inside it, unchanged."""
    if interval.low > band.upper:
        return Verdict.REGRESSED
    if interval.high < band.lower:
        return Verdict.IMPROVED
    if band.lower <= interval.low and interval.high <= band.upper:
        return Verdict.UNCHANGED
    return Verdict.INCONCLUSIVE


def detectable_slowdown(interval: RatioInterval, band: Band) -> float:
    """The smallest slowdown this interval would have caught: shifted up by it, it lies wholly above the band."""
    if interval.low <= 0:
        return math.inf
    return (1 + band.tolerance) * interval.estimate / interval.low - 1


def judge(
    names: list[str],
    bands: Mapping[str, Band],
    measure: Measure,
    processes: int,
    max_reruns: int,
    interval_of: IntervalOf = cost_ratio,
) -> list[Outcome]:
    """Measure; pool more processes into the inconclusive (bounded); confirm every regression afresh.

    A regression fails only if fresh processes show it again (regressed, or an estimate past the
    limit): one noisy burst on a shared machine must not fail CI, a real regression persists.
    Whatever stays inconclusive after the re-runs fails only if its estimate is past the limit and fresh
    processes then show the whole interval past it.
    """

    def outcome(name: str, timings: list[ProcessTiming]) -> Outcome:
        interval = interval_of(timings)
        return Outcome(name, decide(interval, bands[name]), interval, bands[name], len(timings), timings)

    timings = measure(names, processes)
    outcomes = {name: outcome(name, timings[name]) for name in names}
    for _ in range(max_reruns):
        unsettled = [name for name, o in outcomes.items() if o.verdict is Verdict.INCONCLUSIVE]
        if not unsettled:
            break
        more = measure(unsettled, processes)
        for name in unsettled:
            outcomes[name] = outcome(name, outcomes[name].timings + more[name])

    suspects = [name for name, o in outcomes.items() if o.verdict is Verdict.REGRESSED]
    if suspects:
        again = measure(suspects, processes)
        for name in suspects:
            confirmation = outcome(name, again[name])
            if _past_limit(confirmation):
                outcomes[name].note = f"confirmed in fresh processes: {_ratio_text(confirmation.interval)}"
            else:
                outcomes[name].verdict = Verdict.UNCHANGED
                outcomes[name].note = f"regression not confirmed: {_ratio_text(confirmation.interval)}"

    # Still inconclusive: an estimate past the limit is a suspect like any other, and fails only if fresh
    # processes put the whole interval past the limit (calibration: deciding by the estimate alone gave
    # the false alarms on save_latency_stats[1000]).
    leaning = [name for name, o in outcomes.items() if o.verdict is Verdict.INCONCLUSIVE and _past_limit(o)]
    again = measure(leaning, processes) if leaning else {}
    for name, settled in outcomes.items():
        if settled.verdict is not Verdict.INCONCLUSIVE:
            continue
        if name not in again:
            settled.verdict = Verdict.UNCHANGED
            settled.note = "inconclusive, estimate within the limit"
            continue
        confirmation = outcome(name, again[name])
        if confirmation.verdict is Verdict.REGRESSED:
            settled.verdict = Verdict.REGRESSED
            settled.note = f"estimate past the limit, confirmed: {_ratio_text(confirmation.interval)}"
        else:
            settled.verdict = Verdict.UNCHANGED
            settled.note = f"inconclusive, not confirmed: {_ratio_text(confirmation.interval)}"
    return list(outcomes.values())


def _past_limit(outcome: Outcome) -> bool:
    assert outcome.interval is not None and outcome.band is not None
    if outcome.verdict is Verdict.REGRESSED:
        return True
    return outcome.verdict is Verdict.INCONCLUSIVE and outcome.interval.estimate > outcome.band.upper


# --- against a revision ------------------------------------------------------------------------------


def serving_reference(reference: Snapshot, *, probed: bool = True) -> None:
    """A reference store that cannot serve makes the comparison meaningless: a RevisionError (exit 2) saying why."""
    try:
        snapshot.load(reference, probed=probed)
    except StoreUnusable as e:
        raise RevisionError(e.reason) from e


def judge_against(
    names: list[str],
    candidate: Arm,
    reference: Snapshot,
    config: GateConfig,
    *,
    processes: int = DEFAULT_PROCESSES,
    rounds: int = DEFAULT_ROUNDS,
    max_reruns: int = DEFAULT_MAX_RERUNS,
    seed: int | None = None,
) -> list[Outcome]:
    """The verdicts of `candidate` (working tree) against the store at `reference`, by the stated rule."""
    serving_reference(reference, probed=False)  # one that does not even load: a usage error before any process
    arms = Arms(candidate=candidate, reference=Arm.of(reference))
    seed = Fixtures().seed if seed is None else seed
    measure = measure_interleaved(arms, seed, rounds, DEFAULT_SAMPLE_SECONDS)
    bands = {name: Band(1.0, config.minimum_effect(name)) for name in names}
    interval_of = partial(against_ratio, confidence=config.confidence(len(names)))
    return judge(names, bands, measure, processes, max_reruns, interval_of)


def against_line(outcome: Outcome, reference: Snapshot, saved: Band | None) -> str:
    """One verdict against a revision: the ratio, its limit, what it could catch, and the baseline beside it."""
    interval, band = outcome.interval, outcome.band
    assert interval is not None and band is not None
    short = reference.commit[:12]
    drift = ""
    if saved is not None:
        now = cost_ratio(outcome.timings)
        where = {
            Verdict.UNCHANGED: "within",
            Verdict.REGRESSED: "above",
            Verdict.IMPROVED: "below",
            Verdict.INCONCLUSIVE: "across its edge",
        }[decide(now, saved)]
        drift = f"; saved {saved.ratio:.4f} +-{saved.tolerance:.1%}: {where} (information only)"
    return (
        f"{outcome.verdict.name:<11}{outcome.name}: working tree/{short} {_ratio_text(interval)} "
        f"({interval.confidence:.2%} interval), regression above {band.upper:.3f}; "
        f"smallest slowdown it catches +{detectable_slowdown(interval, band):.1%}; "
        f"vs baseline {cost_ratio(outcome.timings).estimate:.4f} (at {short}: "
        f"{reference_cost_ratio(outcome.timings).estimate:.4f}){drift}; {outcome.processes} processes"
        + (f"; {outcome.note}" if outcome.note else "")
    )


def _rule_text(config: GateConfig, names: list[str]) -> str:
    effects = sorted({config.minimum_effect(name) for name in names})
    effect = " / ".join(f"{e:.0%}" for e in effects)
    return (
        f"rule: regressed when the whole {config.confidence(len(names)):.2%} interval lies above 1 + {effect} "
        f"({config.false_alarm_rate:.0%} nominal false alarms for these {len(names)} benchmarks together), "
        "shown again in fresh processes"
    )


# --- the saved file ---------------------------------------------------------------------------------


def provenance(fixtures: Fixtures) -> dict[str, Any]:
    """What must match for saved ratios to mean anything: the control's code and the fixtures' shape."""
    baseline_file = Path(storage.baseline.__file__)
    return {
        "baseline_sha256": hashlib.sha256(baseline_file.read_bytes()).hexdigest(),
        "fixture_seed": fixtures.seed,
        "fixture_version": FORMAT_VERSION,
        "benchmarks": [case_name(op, size) for op, size in cases()],
    }


def _read_saved(path: Path) -> dict[str, Any]:
    document = results.SAVED_RATIOS.load(path)  # absent, unparsable or of another format: a UsageError
    if not {"provenance", "benchmarks"} <= document.keys():
        raise UsageError(f"{path} is not a saved-ratios file (no provenance and benchmarks): rebaseline")
    return document


def load_saved(path: Path, expected: dict[str, Any]) -> dict[str, Band]:
    document = _read_saved(path)
    saved_provenance = document["provenance"]
    for key in ("baseline_sha256", "fixture_seed", "fixture_version"):
        if saved_provenance.get(key) != expected[key]:
            raise UsageError(
                f"provenance mismatch on {key}: saved {saved_provenance.get(key)!r}, now {expected[key]!r}; "
                "the saved ratios were measured against a different control or fixtures: rebaseline on purpose"
            )
    return {name: Band(entry["ratio"], entry["tolerance"]) for name, entry in document["benchmarks"].items()}


def measured_at(path: Path, repo: Path | None = None) -> tuple[str, str]:
    """(commit, why): the commit whose store the saved ratios were measured on, CI's reference.

    --rebaseline records it (measured_at_commit). A file written before that field existed was
    committed right after it was measured, so the parent of the commit that last wrote it is the tree
    that was measured.
    """
    document = _read_saved(path)
    if commit := document.get("measured", {}).get("measured_at_commit"):
        return commit, f"measured_at_commit of {path}"
    repo = git.repository() if repo is None else repo
    last = git.output(repo, "log", "-1", "--format=%H", "--", str(path)).strip()
    if not last:
        raise UsageError(f"{path} records no measured_at_commit and is not committed: rebaseline, or give --against")
    return f"{last}^", f"parent of {last[:12]}, the commit that last wrote {path}"


def tolerances(repeat_estimates: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """Saved ratio and tolerance per benchmark, from repeats of unchanged code (A/A).

    Each benchmark's own band is SAVED_RATIO_TOLERANCE_PER_SPREAD times its largest repeat-to-median deviation.
    A handful of repeats can agree by luck, so no band is narrower than the median band over all
    benchmarks: run-to-run drift is a property of the machine as much as of the benchmark.
    """
    ratios = {name: statistics.median(estimates) for name, estimates in repeat_estimates.items()}
    own = {
        name: SAVED_RATIO_TOLERANCE_PER_SPREAD * max(abs(e / ratios[name] - 1) for e in estimates)
        for name, estimates in repeat_estimates.items()
    }
    pooled = statistics.median(own.values())
    return {name: (ratios[name], max(own[name], pooled)) for name in repeat_estimates}


def _commit_of_measured_store() -> str:
    """HEAD, which must hold the store measured: the saved file names it as CI's reference."""
    repo = git.repository()
    if changed := git.changed(repo, [snapshot.DEFAULT_FOLDER]):
        raise UsageError(
            f"{snapshot.DEFAULT_FOLDER}/ has uncommitted changes ({changed[0].split()[-1]} ...): commit the store "
            "first, the saved ratios record the commit they were measured at"
        )
    return git.head(repo)


def rebaseline(
    path: Path, measure: Measure, names: list[str], processes: int, repeats: int, prov: dict, commit: str
) -> str:
    """Saves, per benchmark, the median of `repeats` runs and a tolerance from their spread."""
    runs = [measure(names, processes) for _ in range(repeats)]
    estimates = {name: [cost_ratio(run[name]).estimate for run in runs] for name in names}
    benchmarks = {}
    lines = []
    for name, (ratio, tolerance) in tolerances(estimates).items():
        benchmarks[name] = {"ratio": ratio, "tolerance": tolerance, "repeat_estimates": estimates[name]}
        low, high = min(estimates[name]), max(estimates[name])
        lines.append(f"{name}: ratio {ratio:.4f}, repeats {low:.4f}..{high:.4f}, tolerance {tolerance:.1%}")
    document = {
        "format": results.SAVED_RATIOS.format,
        "provenance": prov,
        "measured": {
            "processes": processes,
            "repeats": repeats,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "date": time.strftime("%Y-%m-%d"),
            "measured_at_commit": commit,
        },
        "benchmarks": benchmarks,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--candidate",
        default=None,
        help=f"registry name or package.module:Class (default: {DEFAULT_CANDIDATE}); not with --store, whose "
        "working tree's file is the candidate",
    )
    reference = parser.add_mutually_exclusive_group()
    reference.add_argument("--against", metavar="REV", help="git revision whose store (--store) to compare with")
    reference.add_argument(
        "--against-saved",
        action="store_true",
        help="--against the commit the saved ratios were measured at (what CI runs)",
    )
    parser.add_argument(
        "--saved", type=Path, default=SAVED_RATIOS, help=f"saved ratios file (default: {results.shown(SAVED_RATIOS)})"
    )
    parser.add_argument("--processes", type=int, default=DEFAULT_PROCESSES, help="worker processes per benchmark")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="interleaved timing rounds per process")
    parser.add_argument("--max-reruns", type=int, default=DEFAULT_MAX_RERUNS, help="re-runs of inconclusive ones")
    add_only_option(parser.add_argument)
    add_publish_options(parser.add_argument)
    add_seed_option(parser.add_argument)
    add_store_options(parser.add_argument)
    parser.add_argument(
        "--rebaseline",
        action="store_true",
        help=f"measure {REBASELINE_REPEATS} times and REWRITE the saved ratios (what nox -s rebaseline runs)",
    )
    parser.add_argument("--repeats", type=int, default=REBASELINE_REPEATS, help="repeats for --rebaseline")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="callgrind instruction counts per call instead: of both sides with --against, else against "
        "results/instructions/saved_counts.json",
    )
    add_quick_option(parser.add_argument, "the quick sizes only (with --instructions)")
    parser.add_argument(
        "--informational",
        action="store_true",
        help="print every verdict but exit 0 on a regression (usage errors still exit 2): what CI does with counts",
    )


def run(args: argparse.Namespace) -> ExitCode:
    status = _run(args)
    if status == ExitCode.FAILED and args.informational:
        print("(--informational: not failing)")
        return ExitCode.OK
    return status


def _selected(args: argparse.Namespace, all_names: list[str]) -> list[str]:
    if not args.only:
        return all_names
    return [case_name(*find_case(n)) for n in args.only]


def _run(args: argparse.Namespace) -> ExitCode:
    if args.processes < 2 or args.rounds < 1 or args.max_reruns < 0 or args.repeats < 2:
        raise UsageError("need --processes >= 2, --rounds >= 1, --max-reruns >= 0, --repeats >= 2")
    if args.store is not None and args.candidate is not None:
        raise UsageError("--store names the working tree's store to judge, --candidate another store: give one")
    args.candidate = args.candidate or DEFAULT_CANDIDATE
    resolve(args.candidate)  # a bad name is a usage error before anything runs
    if args.rebaseline and (args.against or args.against_saved or args.instructions):
        raise UsageError("--rebaseline rewrites the saved ratios: no --against, --against-saved or --instructions")
    if args.against or args.against_saved:
        repo = git.repository(args.repo)
        if args.against_saved:
            rev, why = measured_at(args.saved, repo)
            print(f"reference: {rev} ({why})")
        else:
            rev = args.against
        store, collector = store_location(args), collector_location(args)
        reference = snapshot.at(repo, rev, store, collector)
        serving_reference(reference)  # exit 2, before the working tree's store is looked at
        candidate, candidate_text = _working_tree_side(args, repo, store, collector)
        if args.instructions:
            return _run_instructions_against(args, reference, candidate, candidate_text)
        return _run_against(args, reference, candidate, candidate_text)
    if args.store is not None or args.collector is not None:
        raise UsageError(
            "--store and --collector name a store compared with itself at a revision: give --against REV "
            "(the saved ratios are this repository's optimized store's)"
        )
    if args.instructions:
        return _run_instructions(args)
    fixtures = fixtures_from(args)
    prov = provenance(fixtures)
    all_names = prov["benchmarks"]
    names = _selected(args, all_names)
    measure = measure_interleaved(Arms(Arm(args.candidate)), args.seed, args.rounds, DEFAULT_SAMPLE_SECONDS)
    started = time.monotonic()
    if args.rebaseline:
        if args.only:
            raise UsageError("--rebaseline rewrites every saved ratio: it takes no --only")
        commit = _commit_of_measured_store()
        print(rebaseline(args.saved, measure, names, args.processes, args.repeats, prov, commit))
        print(f"rewrote {args.saved} in {time.monotonic() - started:.0f} s")
        return ExitCode.OK

    saved = load_saved(args.saved, prov)
    outcomes = judge([n for n in names if n in saved], saved, measure, args.processes, args.max_reruns)
    outcomes += [Outcome(n, Verdict.UNSAVED, None, None, 0) for n in names if n not in saved]
    if not args.only:
        outcomes += [Outcome(n, Verdict.MISSING, None, saved[n], 0) for n in saved if n not in all_names]
    text = [f"candidate {args.candidate} vs baseline, ratios against {results.shown(args.saved)}:"]
    text += [outcome.line() for outcome in outcomes]
    rows = [_saved_row(o) for o in outcomes]
    what = f"{args.candidate}/baseline against the saved ratios"
    context = {"candidate": args.candidate, "saved": results.shown(args.saved)}
    return _finish(outcomes, rows, text, started, args, what, context)


def _working_tree_side(
    args: argparse.Namespace, repo: Path, store: Location, collector: Location | None
) -> tuple[Arm, str]:
    """The candidate: the working tree's file at --store (exit 1 if it cannot serve), else --candidate as imported."""
    if args.store is None:
        return Arm(args.candidate), f"candidate {args.candidate}"
    working = snapshot.work_tree(repo, store, collector)
    snapshot.load(working, probed=True)  # StoreUnusable: exit 1, with the reason
    return Arm.of(working), f"store {store}"


def _saved_for_information(path: Path, seed: int, store: str | None) -> tuple[dict[str, Band], str]:
    """The saved ratios, printed beside the verdicts against a revision; never a reason to fail."""
    if store is not None:
        return {}, f"saved ratios not shown: they are this repository's {DEFAULT_CANDIDATE} store's, not {store}'s"
    try:
        saved = load_saved(path, provenance(Fixtures(seed=seed)))
        return saved, f"saved ratios from {results.shown(path)}, for information"
    except UsageError as e:
        return {}, f"saved ratios not shown: {e}"


def _run_against(args: argparse.Namespace, reference: Snapshot, candidate: Arm, candidate_text: str) -> ExitCode:
    config = load_config()
    names = _selected(args, [case_name(op, size) for op, size in cases()])
    saved, saved_note = _saved_for_information(args.saved, args.seed, args.store)
    started = time.monotonic()
    outcomes = judge_against(
        names,
        candidate,
        reference,
        config,
        processes=args.processes,
        rounds=args.rounds,
        max_reruns=args.max_reruns,
        seed=args.seed,
    )
    text = [
        f"{candidate_text} (working tree) against the store at {reference.label}; {saved_note}",
        _rule_text(config, names),
    ]
    text += [against_line(outcome, reference, saved.get(outcome.name)) for outcome in outcomes]
    rows = [_against_row(o, reference) for o in outcomes]
    context = {
        "candidate": candidate_text.partition(" ")[2],
        "store": str(reference.store),
        "against": {"rev": reference.rev, "commit": reference.commit},
        "config": asdict(config) | {"minimum_effects": dict(config.minimum_effects)},
        "rule": _rule_text(config, names),
    }
    what = f"working tree against {reference.label}"
    explanation = (
        f"Each ratio is working tree / {reference.commit[:12]}, both stores timed interleaved in the same fresh "
        f"processes; {_rule_text(config, names)}. The last number is the smallest slowdown this run could have "
        "caught: an unchanged verdict rules out slowdowns that large."
    )
    return _finish(outcomes, rows, text, started, args, what, context, explanation)


def _against_row(outcome: Outcome, reference: Snapshot) -> Row:
    interval, band = outcome.interval, outcome.band
    assert interval is not None and band is not None
    baseline = cost_ratio(outcome.timings)
    return Row.of(
        outcome.name,
        f"working tree / {reference.commit[:12]}",
        interval,
        outcome.verdict.value,
        fails=outcome.fails,
        smallest_detectable=detectable_slowdown(interval, band),
        note=f"regression above {band.upper:.3f}; vs baseline {_ratio_text(baseline)}; {outcome.processes} processes"
        + (f"; {outcome.note}" if outcome.note else ""),
    )


def _saved_row(outcome: Outcome) -> Row:
    interval, band = outcome.interval, outcome.band
    return Row.of(
        outcome.name,
        "candidate / baseline",
        interval,
        outcome.verdict.value,
        fails=outcome.fails,
        smallest_detectable=detectable_slowdown(interval, band) if interval and band else None,
        note=(f"saved {band.ratio:.4f} +-{band.tolerance:.1%}" if band else "no saved ratio")
        + (f"; {outcome.note}" if outcome.note else ""),
    )


def _finish(
    outcomes: list[Outcome],
    rows: list[Row],
    text: list[str],
    started: float,
    args: argparse.Namespace,
    what: str,
    context: dict[str, Any],
    explanation: str = "",
) -> ExitCode:
    """Prints the verdicts and the tally, and publishes the summary (Markdown, JSON) if asked."""
    failed = [o for o in outcomes if o.fails]
    elapsed = time.monotonic() - started
    text.append(f"{len(failed)} failed, {len(outcomes) - len(failed)} passed in {elapsed:.0f} s")
    print("\n".join(text))
    summary = Summary(
        kind="gate",
        title="Perf gate",
        headline=_headline(failed, outcomes, what),
        passed=not failed,
        rows=rows,
        seconds=elapsed,
        report="\n".join(text),
        details={**context, "outcomes": [_as_json(o) for o in outcomes]},
        explanation=explanation,
    )
    for path in publish(summary, args.markdown, args.json):
        print(f"summary written to {path}", file=sys.stderr)
    return ExitCode.FAILED if failed else ExitCode.OK


def _headline(failed: list[Outcome], outcomes: list[Outcome], what: str) -> str:
    if not failed:
        return f"no regression in {len(outcomes)} benchmarks: {what}"
    names = ", ".join(o.name for o in failed)
    return f"{len(failed)} of {len(outcomes)} benchmarks {'fail' if len(failed) > 1 else 'fails'}: {names} ({what})"


def _run_instructions(args: argparse.Namespace) -> ExitCode:
    saved_path = args.saved if args.saved != SAVED_RATIOS else instructions.SAVED_COUNTS
    saved = instructions.load(saved_path, instructions.provenance(args.seed))
    names = counting.selected_names(args.quick, args.only)
    started = time.monotonic()
    now = counting.measure_all(names, [args.candidate], counting.DEFAULT_CALLS, args.seed)
    checked = instructions.check(saved, now, args.candidate)
    print(f"candidate {args.candidate}, instruction counts against {saved_path}:")
    for _, line in checked:
        print(line)
    failed = sum(failed for failed, _ in checked)
    print(f"{failed} failed, {len(checked) - failed} passed in {time.monotonic() - started:.0f} s")
    return ExitCode.FAILED if failed else ExitCode.OK


def _run_instructions_against(
    args: argparse.Namespace, reference: Snapshot, candidate: Arm, candidate_text: str
) -> ExitCode:
    config = load_config()
    names = counting.selected_names(args.quick, args.only)
    started = time.monotonic()
    pairs = counting.measure_against(names, candidate.snapshot or candidate.spec, reference, args.seed)
    print(
        f"{candidate_text} (working tree) against the store at {reference.label}, instructions per call; "
        f"regression above +{config.instruction_tolerance:.2%}"
    )
    verdicts = []
    for name, pair in pairs.items():
        verdict = instructions.decide(pair, config.instruction_tolerance)
        verdicts.append(verdict)
        print(instructions.against_line(name, pair, verdict, reference))
    failed = sum(v.fails for v in verdicts)
    print(f"{failed} failed, {len(verdicts) - failed} passed in {time.monotonic() - started:.0f} s")
    return ExitCode.FAILED if failed else ExitCode.OK


def _as_json(outcome: Outcome) -> dict[str, Any]:
    document = asdict(outcome)
    document["verdict"] = outcome.verdict.value
    document["fails"] = outcome.fails
    if outcome.interval is not None and not math.isfinite(outcome.interval.estimate):
        document["interval"] = None
    if outcome.interval is not None and outcome.band is not None:
        document["detectable_slowdown"] = detectable_slowdown(outcome.interval, outcome.band)
    return document
