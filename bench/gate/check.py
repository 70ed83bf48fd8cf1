"""`python -m bench gate`: the CI perf gate, on ratios measured in the same worker processes.

Against a revision (`--against REV`, what CI runs). The store at REV (loaded from git by
bench.stores.revision) and the working tree's store are timed interleaved, in a rotating order, in the same fresh
worker processes; a registered candidate (optimized) is loaded from the working tree's files by the same loader.
`--store PATH[:Class]` names the store in another repository's layout (the application's
src/astraguard/hil/metrics/storage.py); both sides are then that file, as committed at REV and as it is in the
work tree. Each process gives one ratio working tree / REV per benchmark. Both sides build their inputs with their
own revision's collector class. `--baseline` times the frozen baseline as a third arm, for information beside
each verdict.

The decision rule (bench.gate._sequential says why it holds; settings in pyproject.toml, [tool.bench.gate]):

- Every benchmark has a minimum effect e (default 5%): a slowdown below it is not a regression.
- One sequential test per benchmark: looks at --processes, then as many more at each of --max-reruns further
  looks, only for the benchmarks still undecided. At each look, one-sided trimmed t bounds on the log ratio at
  a / (m * K) each (m benchmarks, K looks, a the run's false-alarm rate, default 5%): regressed when the lower
  bound is above log(1 + e); no regression (unchanged, or improved below 1 - e) when the upper bound is below it.
- Still open after the last look: inconclusive, which passes. By the union bound over benchmarks and looks, a
  run of unchanged code fails with at most a; `nox -s calibrate` measures the real rates (results/GATE.md).
- Each line states the smallest slowdown this run would have caught, (1 + e) * estimate / low - 1:
  the interval shifted up by that much lies wholly above the limit. So an "unchanged" says what it
  rules out.
- Then the counts (bench.gate.counts), unless --no-counts: instructions and system calls per call of both sides.

Against saved ratios (no --against). The ratio candidate / baseline is compared with the ratio
saved in results/gate/saved_ratios.json (written by `--rebaseline`), with a tolerance from the
spread of repeated runs. It carries drift between days and machines; with --against the same
comparison is printed beside each verdict, two-sided and for information only.

The command line is bench.commands.gate; the pieces are private modules re-exported here: _rule (the
settings), _measure (timing in worker processes), _decide (verdicts), _saved (the saved ratios),
_verdicts (printing and publishing them).

Exit codes: 0 pass; 1 a regression (saved ratios: or a saved benchmark not measured now, or a
measured one not saved), or a working tree's store that cannot serve (it does not import, lacks a
method, is async, changed a signature, or answers wrongly); 2 usage error: a bad option, a reference
revision that cannot be loaded or cannot serve, or saved files whose provenance makes the comparison
meaningless.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, RevisionError, StoreUnusable, ToolMissing, UsageError
from bench.gate import answers, counts, instructions
from bench.gate._decide import (
    Band,
    IntervalOf,
    Outcome,
    against_ratio,
    cost_ratio,
    decide,
    detectable_slowdown,
    has_baseline,
    judge,
    ratio_text,
    reference_cost_ratio,
)
from bench.gate._measure import (
    DEFAULT_SAMPLE_SECONDS,
    Arm,
    Arms,
    Measure,
    ProcessTiming,
    measure_interleaved,
    round_order,
    time_in_this_process,
)
from bench.gate._rule import GateConfig, load_config, rule_text
from bench.gate._saved import (
    REBASELINE_REPEATS,
    SAVED_RATIO_TOLERANCE_PER_SPREAD,
    SAVED_RATIOS,
    commit_of_measured_store,
    load_saved,
    measured_at,
    provenance,
    rebaseline,
    tolerances,
)
from bench.gate._sequential import Design, judge_sequential
from bench.gate._verdicts import Counted, against_row, finish, saved_row
from bench.model import git, location, results
from bench.model.fixtures import DEFAULT_SEED, Fixtures
from bench.model.location import Location
from bench.model.operations import case_name, cases, find_case
from bench.model.verdict import Verdict
from bench.runners import instructions as counting
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot

__all__ = [
    "DEFAULT_SAMPLE_SECONDS",
    "REBASELINE_REPEATS",
    "SAVED_RATIOS",
    "SAVED_RATIO_TOLERANCE_PER_SPREAD",
    "Arm",
    "Arms",
    "Band",
    "GateConfig",
    "IntervalOf",
    "Measure",
    "Outcome",
    "ProcessTiming",
    "against_line",
    "against_ratio",
    "cost_ratio",
    "decide",
    "detectable_slowdown",
    "judge",
    "judge_against",
    "load_config",
    "load_saved",
    "measure_interleaved",
    "measured_at",
    "provenance",
    "reference_cost_ratio",
    "round_order",
    "rule_text",
    "serving_reference",
    "time_in_this_process",
    "tolerances",
]

DEFAULT_CANDIDATE: Final = "optimized"
DEFAULT_PROCESSES: Final = 8
DEFAULT_ROUNDS: Final = 9  # interleaved timing rounds per process (odd: the median is one of them)
DEFAULT_MAX_RERUNS: Final = 2


@dataclass(frozen=True)
class Timing:
    """How the gate times: fresh processes per benchmark, rounds in each, re-runs of the inconclusive, the seed."""

    processes: int = DEFAULT_PROCESSES
    rounds: int = DEFAULT_ROUNDS
    max_reruns: int = DEFAULT_MAX_RERUNS
    seed: int = DEFAULT_SEED
    # Against a revision, the frozen baseline is timed only for the information beside each verdict: it is the
    # slowest arm (up to 20 times the store's call), so left out by default the gate gets more processes per minute.
    baseline: bool = False

    def __post_init__(self) -> None:
        if self.processes < 3 or self.rounds < 1 or self.max_reruns < 0:
            # Three processes at least: a t bound from two has one degree of freedom (bench.gate._sequential).
            raise UsageError("need --processes >= 3, --rounds >= 1, --max-reruns >= 0")


# --- against a revision ------------------------------------------------------------------------------


def serving_reference(reference: Snapshot, *, probed: bool = True) -> None:
    """A reference store that cannot serve makes the comparison meaningless: a RevisionError (exit 2) saying why."""
    try:
        loading.load(reference, probed=probed)
    except StoreUnusable as e:
        raise RevisionError(e.reason) from e


def judge_against(
    names: list[str], candidate: Arm, reference: Snapshot, config: GateConfig, timing: Timing = Timing()
) -> list[Outcome]:
    """The verdicts of `candidate` (working tree) against the store at `reference`, by the stated rule."""
    serving_reference(reference, probed=False)  # one that does not even load: a usage error before any process
    arms = Arms(candidate=candidate, reference=Arm.of(reference), baseline=Arm("baseline") if timing.baseline else None)
    measure = measure_interleaved(arms, timing.seed, timing.rounds, DEFAULT_SAMPLE_SECONDS)
    bands = {name: Band(1.0, config.minimum_effect(name)) for name in names}
    return judge_sequential(names, bands, measure, design_of(timing, config))


def design_of(timing: Timing, config: GateConfig) -> Design:
    """The sequential rule's looks: --processes at the first, as many more at each of --max-reruns further looks."""
    return Design.every(timing.processes, timing.max_reruns, config.false_alarm_rate)


def against_line(outcome: Outcome, reference: Snapshot, saved: Band | None) -> str:
    """One verdict against a revision: the ratio, its limit, what it could catch, and the baseline beside it."""
    interval, band = outcome.interval, outcome.band
    assert interval is not None and band is not None
    short = reference.commit[:12]
    drift = ""
    timed_baseline = has_baseline(outcome.timings)
    if saved is not None and timed_baseline:
        now = cost_ratio(outcome.timings)
        where = {
            Verdict.UNCHANGED: "within",
            Verdict.REGRESSED: "above",
            Verdict.IMPROVED: "below",
            Verdict.INCONCLUSIVE: "across its edge",
        }[decide(now, saved)]
        drift = f"; saved {saved.ratio:.4f} +-{saved.tolerance:.1%}: {where} (information only)"
    return (
        f"{outcome.verdict.shown + ' ':<11}{outcome.name}: working tree/{short} {ratio_text(interval)} "
        f"({interval.confidence:.2%} interval), regression above {band.upper:.3f}; "
        f"smallest slowdown it catches +{detectable_slowdown(interval, band):.1%}; "
        + (
            f"vs baseline {cost_ratio(outcome.timings).estimate:.4f} (at {short}: "
            f"{reference_cost_ratio(outcome.timings).estimate:.4f}){drift}; "
            if timed_baseline
            else ""
        )
        + f"{outcome.processes} processes"
        + (f"; {outcome.note}" if outcome.note else "")
    )


# --- the gate's modes, each what bench.commands.gate calls ---------------------------------------------


def selected(only: Sequence[str] | None) -> list[str]:
    """The benchmarks --only names (each checked), else every one of the table."""
    if not only:
        return [case_name(op, size) for op, size in cases()]
    return [case_name(*find_case(name)) for name in only]


Destinations = tuple[Path | None, Path | None]  # --markdown, --json


def against_revision(
    *,
    rev: str | None,
    saved: Path,
    candidate: str,
    store: Location | None,
    collector: Location | None,
    repo_given: Path | None,
    only: Sequence[str] | None,
    timing: Timing,
    counts_only: bool = False,
    with_counts: bool = True,
    quick: bool = False,
    destinations: Destinations = (None, None),
    allow_different_answers: bool = False,
    check_answers: bool = True,
) -> ExitCode:
    """The working tree's store against the store at rev (None: the commit `saved` was measured at).

    With a store location the candidate is the working tree's file there, else `candidate` as imported.
    Both sides' answers are checked first (bench.gate.answers): a benchmark of a method that answers otherwise
    than the original fails, unless allowed; check_answers False skips it. Then the wall clock, then
    (with_counts) instructions and system calls per call of both sides; counts_only: the counts alone.
    """
    repo = git.repository(repo_given)
    if rev is None:
        rev, why = measured_at(saved, repo)
        print(f"reference: {rev} ({why})")
    reference = revision.at(repo, rev, store or Location(location.DEFAULT_STORE, location.DEFAULT_CLASS), collector)
    serving_reference(reference)  # exit 2, before the working tree's store is looked at
    if store is None:
        # A registered store is loaded from the working tree's files by the revision's loader, as REV's is.
        registered = revision.registered(candidate, repo)
        arm = Arm.of(registered) if registered is not None else Arm(candidate)
        text = f"candidate {candidate}"
    else:
        working = revision.work_tree(repo, store, collector)
        loading.load(working, probed=True)  # StoreUnusable: exit 1, with the reason
        arm, text = Arm.of(working), f"store {store}"
    count_names = counting.selected_names(quick or not only, only)
    if counts_only:
        return _counts_against(reference, arm, text, count_names, timing.seed)
    if with_counts:
        try:  # before any timing: a missing tool is said at once
            counting.require("valgrind")
        except ToolMissing as e:
            raise ToolMissing(f"{e}; or --no-counts to time only") from e
    if timing.baseline:
        informed = _saved_for_information(saved, timing.seed, store)
    else:
        informed = {}, "the frozen baseline not timed (--baseline times it, for the ratios to it and the saved ones)"
    checked = answers.check(arm, reference, allowed=allow_different_answers) if check_answers else None
    counted = partial(count_verdicts, reference, arm, count_names, timing.seed) if with_counts else None
    return _times_against(reference, arm, text, selected(only), timing, informed, destinations, checked, counted)


def count_verdicts(reference: Snapshot, candidate: Arm, names: list[str], seed: int) -> Counted:
    """Both sides' instructions and system calls per call, judged by the counts' rule (bench.gate.counts)."""
    config = load_config()
    pairs = counting.measure_against(names, candidate.snapshot or candidate.spec, reference, seed)
    verdicts = [counts.judge_counts(name, pair, config) for name, pair in pairs.items()]
    short = reference.commit[:12]
    lines = [
        f"counts per call against {short}: instructions fail above +{config.instruction_tolerance:.1%}, "
        f"an exact system call on any increase, a wandering one above +{config.syscall_wandering_tolerance:g}"
    ]
    lines += [v.line(short, config) for v in verdicts]
    return Counted(verdicts, lines, counts.markdown_table(verdicts, short, config))


def _saved_for_information(path: Path, seed: int, store: Location | None) -> tuple[dict[str, Band], str]:
    """The saved ratios, printed beside the verdicts against a revision; never a reason to fail."""
    if store is not None:
        return {}, f"saved ratios not shown: they are this repository's {DEFAULT_CANDIDATE} store's, not {store}'s"
    try:
        saved = load_saved(path, provenance(Fixtures(seed=seed)))
        return saved, f"saved ratios from {results.shown(path)}, for information"
    except UsageError as e:
        return {}, f"saved ratios not shown: {e}"


def _times_against(
    reference: Snapshot,
    candidate: Arm,
    candidate_text: str,
    names: list[str],
    timing: Timing,
    informed: tuple[dict[str, Band], str],
    destinations: Destinations,
    checked: answers.Answers | None,
    counted: Callable[[], Counted] | None = None,
) -> ExitCode:
    config = load_config()
    saved, saved_note = informed
    started = time.monotonic()
    outcomes = judge_against(names, candidate, reference, config, timing)
    if checked is not None:
        outcomes = answers.apply(outcomes, checked)
    rule = rule_text(config, names, design_of(timing, config).looks)
    text = checked.lines(reference) if checked is not None else ["answers not checked (--no-answers): times only"]
    text += [f"{candidate_text} (working tree) against the store at {reference.label}; {saved_note}", rule]
    text += [against_line(outcome, reference, saved.get(outcome.name)) for outcome in outcomes]
    rows = [against_row(o, reference) for o in outcomes]
    context = {
        "candidate": candidate_text.partition(" ")[2],
        "store": str(reference.store),
        "against": {"rev": reference.rev, "commit": reference.commit},
        "config": asdict(config) | {"minimum_effects": dict(config.minimum_effects)},
        "rule": rule,
        "answers": checked.as_json() if checked is not None else None,
    }
    what = f"working tree against {reference.label}"
    explanation = (
        f"Each ratio is working tree / {reference.commit[:12]}, both stores timed interleaved in the same fresh "
        f"processes; {rule}. The last number is the smallest slowdown this run could have "
        "caught: an unchanged verdict rules out slowdowns that large."
    )
    timed = {find_case(o.name)[0].store_method for o in outcomes}
    failed_answers = [op for op in checked.differs_in if op not in timed] if checked and checked.fail else []
    counts_done = counted() if counted is not None else None
    return finish(outcomes, rows, text, started, destinations, what, context, explanation, failed_answers, counts_done)


def _counts_against(reference: Snapshot, candidate: Arm, candidate_text: str, names: list[str], seed: int) -> ExitCode:
    started = time.monotonic()
    counted = count_verdicts(reference, candidate, names, seed)
    print(f"{candidate_text} (working tree) against the store at {reference.label}")
    print("\n".join(counted.lines))
    failed = sum(v.fails for v in counted.verdicts)
    print(f"{failed} failed, {len(counted.verdicts) - failed} passed in {time.monotonic() - started:.0f} s")
    return ExitCode.FAILED if failed else ExitCode.OK


def against_saved_ratios(
    *, candidate: str, saved: Path, only: Sequence[str] | None, timing: Timing, destinations: Destinations
) -> ExitCode:
    """candidate/baseline, timed now, against the ratios saved in `saved`."""
    prov = provenance(Fixtures(seed=timing.seed))
    all_names = prov["benchmarks"]
    names = selected(only)
    measure = measure_interleaved(Arms(Arm(candidate)), timing.seed, timing.rounds, DEFAULT_SAMPLE_SECONDS)
    started = time.monotonic()
    bands = load_saved(saved, prov)
    outcomes = judge([n for n in names if n in bands], bands, measure, timing.processes, timing.max_reruns)
    outcomes += [Outcome(n, Verdict.UNSAVED, None, None, 0) for n in names if n not in bands]
    if not only:
        outcomes += [Outcome(n, Verdict.MISSING, None, bands[n], 0) for n in bands if n not in all_names]
    text = [f"candidate {candidate} vs baseline, ratios against {results.shown(saved)}:"]
    text += [outcome.line() for outcome in outcomes]
    rows = [saved_row(o) for o in outcomes]
    what = f"{candidate}/baseline against the saved ratios"
    context = {"candidate": candidate, "saved": results.shown(saved)}
    return finish(outcomes, rows, text, started, destinations, what, context)


def rebaseline_saved_ratios(*, candidate: str, saved: Path, timing: Timing, repeats: int) -> ExitCode:
    """REWRITES the saved ratios: each benchmark's median of `repeats` runs, and a tolerance from their spread."""
    if repeats < 2:
        raise UsageError(f"--repeats {repeats}: at least 2, the tolerance comes from their spread")
    prov = provenance(Fixtures(seed=timing.seed))
    measure = measure_interleaved(Arms(Arm(candidate)), timing.seed, timing.rounds, DEFAULT_SAMPLE_SECONDS)
    started = time.monotonic()
    commit = commit_of_measured_store()
    print(rebaseline(saved, measure, prov["benchmarks"], timing.processes, repeats, prov, commit))
    print(f"rewrote {saved} in {time.monotonic() - started:.0f} s")
    return ExitCode.OK


def counts_against_saved(
    *, candidate: str, saved: Path, quick: bool, only: Sequence[str] | None, seed: int
) -> ExitCode:
    """The candidate's instruction counts now against those saved in `saved`."""
    document = instructions.load(saved, instructions.provenance(seed))
    names = counting.selected_names(quick, only)
    started = time.monotonic()
    now = counting.measure_all(names, [candidate], counting.DEFAULT_CALLS, seed)
    checked = instructions.check(document, now, candidate)
    print(f"candidate {candidate}, instruction counts against {saved}:")
    for _, line in checked:
        print(line)
    failed = sum(failed for failed, _ in checked)
    print(f"{failed} failed, {len(checked) - failed} passed in {time.monotonic() - started:.0f} s")
    return ExitCode.FAILED if failed else ExitCode.OK
