"""`python -m bench gate`: the CI perf gate. Every speed verdict here is bench.rule's, on processes timed by
bench.runners.interleaved.

Against a revision (`--against REV`, what CI runs): the working tree's store and the store at REV, timed interleaved
in the same fresh processes; each process gives log(working tree / REV) per benchmark. Answers come first: a
benchmark of a method whose answers differ from the frozen original's is timed once, for information, and fails as
ANSWERS DIFFER; the rest are judged at full power, then counted (instructions and system calls per call).

Against the saved ratios (no --against): each process's log(candidate / baseline) less the saved log ratio, judged
by the same rule against the saved tolerance (or the minimum effect, whichever is wider). It carries drift between
days and machines; beside --against --baseline verdicts it is printed for information only.

Exit codes: 0 pass; 1 a regression, different answers, grown counts, or a working tree's store that cannot serve;
2 usage error, a reference that cannot be loaded or cannot serve, or saved files whose provenance makes the
comparison meaningless.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, RevisionError, StoreUnusable, ToolMissing, UsageError
from bench.gate import answers, counts, instructions
from bench.gate._verdicts import Counted, against_row, finish, saved_row
from bench.gate.config import GateConfig, load_config, rule_text
from bench.gate.outcome import Outcome
from bench.gate.saved import (
    REBASELINE_REPEATS,
    SAVED_RATIOS,
    commit_of_measured_store,
    load_saved,
    measured_at,
    provenance,
    rebaseline,
)
from bench.model import git, location, results
from bench.model.fixtures import DEFAULT_SEED, Fixtures
from bench.model.location import Location
from bench.model.operations import case_name, cases, find_case
from bench.model.verdict import Verdict
from bench.rule import MIN_PROCESSES, Band, Decision, Design, decide, judge_sequential, shown
from bench.runners import instructions as counting
from bench.runners.interleaved import Arm, Arms, Engine, Over, Timings
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot

__all__ = ["REBASELINE_REPEATS", "SAVED_RATIOS", "Timing", "judge_against", "judge_timed"]

DEFAULT_CANDIDATE: Final = "optimized"
DEFAULT_PROCESSES: Final = 8
DEFAULT_ROUNDS: Final = 9  # interleaved timing rounds per process (odd: the median is one of them)
DEFAULT_MAX_RERUNS: Final = 2


@dataclass(frozen=True)
class Timing:
    """How the gate times: fresh processes per benchmark, rounds in each, further looks of the undecided, the seed."""

    processes: int = DEFAULT_PROCESSES
    rounds: int = DEFAULT_ROUNDS
    max_reruns: int = DEFAULT_MAX_RERUNS
    seed: int = DEFAULT_SEED
    # Against a revision, the frozen baseline is timed only for the information beside each verdict: it is the
    # slowest arm (up to 20 times the store's call), so left out by default the gate gets more processes per minute.
    baseline: bool = False

    def __post_init__(self) -> None:
        if self.processes < MIN_PROCESSES or self.rounds < 1 or self.max_reruns < 0:
            raise UsageError(f"need --processes >= {MIN_PROCESSES}, --rounds >= 1, --max-reruns >= 0")

    def design(self, config: GateConfig) -> Design:
        """The rule's looks: --processes at the first, as many more at each of --max-reruns further looks."""
        return Design.every(self.processes, self.max_reruns, config.false_alarm_rate)


def judge_timed(
    engine: Engine,
    bands: Mapping[str, Band],
    design: Design,
    over: Over,
    *,
    offsets: Mapping[str, float] | None = None,
    tests: int | None = None,
) -> dict[str, tuple[Decision, Timings]]:
    """The rule on each benchmark's log(candidate / `over`) per process, less its offset (a saved log ratio), with
    more processes only for the undecided; each decision with every process it rests on."""
    pooled: dict[str, Timings] = {}

    def more(wanted: Mapping[str, int]) -> dict[str, list[float]]:
        found = engine.measure_each(wanted)
        for name, timings in found.items():
            pooled[name] = pooled[name] + timings if name in pooled else timings
        shift = offsets or {}
        return {name: [v - shift.get(name, 0.0) for v in t.log_ratios(over)] for name, t in found.items()}

    decisions = judge_sequential(bands, more, design, tests=tests)
    return {name: (decisions[name], pooled[name]) for name in bands}


def informational(
    engine: Engine, names: Sequence[str], over: Over, verdict: Verdict, note: Callable[[str], str]
) -> list[Outcome]:
    """Benchmarks timed once at the rule's least processes, for information: a ratio and its 95% interval."""
    if not names:
        return []
    found = engine.measure(names, MIN_PROCESSES)
    return [
        Outcome(name, verdict, shown(t.log_ratios(over)), None, len(t), t, note(name), informational=True)
        for name, t in found.items()
    ]


# --- against a revision ------------------------------------------------------------------------------


def serving_reference(reference: Snapshot, *, probed: bool = True) -> None:
    """A reference store that cannot serve makes the comparison meaningless: a RevisionError (exit 2) saying why."""
    try:
        loading.load(reference, probed=probed)
    except StoreUnusable as e:
        raise RevisionError(e.reason) from e


def judge_against(
    names: list[str],
    candidate: Arm,
    reference: Snapshot,
    config: GateConfig,
    timing: Timing = Timing(),
    differing: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """The verdicts of `candidate` (working tree) against the store at `reference`, by the rule.

    differing: the benchmarks whose answers differ, each with why; those are timed once, for information.
    """
    serving_reference(reference, probed=False)  # one that does not even load: a usage error before any process
    arms = Arms(candidate=candidate, reference=Arm.of(reference), baseline=Arm("baseline") if timing.baseline else None)
    engine = Engine(arms, timing.seed, timing.rounds)
    differing = differing or {}
    judged = [name for name in names if name not in differing]
    bands = {name: Band(1.0, config.minimum_effect(name)) for name in judged}
    design = timing.design(config)
    decided = judge_timed(engine, bands, design, "reference")
    outcomes = {
        name: Outcome.of(name, decision, found, f"look {decision.look}/{decision.looks}")
        for name, (decision, found) in decided.items()
    }
    for outcome in outcomes.values():
        if outcome.verdict is Verdict.INCONCLUSIVE:
            outcome.note = f"still inconclusive after the last look ({design.looks[-1]} processes): passes"
    timed_once = informational(
        engine, [n for n in names if n in differing], "reference", Verdict.ANSWERS_DIFFER, lambda n: differing[n]
    )
    outcomes |= {o.name: o for o in timed_once}
    return [outcomes[name] for name in names]


def against_line(outcome: Outcome, reference: Snapshot, saved: Band | None) -> str:
    """One verdict against a revision: the ratio, its limit, what it could catch, and the baseline beside it."""
    interval = outcome.interval
    assert interval is not None
    short = reference.commit[:12]
    timed = outcome.timings
    beside = ""
    if timed is not None and timed.has("baseline"):
        now = shown(timed.log_ratios("baseline"))
        pairs = zip(timed.log_ratios("reference"), timed.log_ratios("baseline"), strict=True)
        at_reference = shown([b - v for v, b in pairs])
        beside = f"vs baseline {now.estimate:.4f} (at {short}: {at_reference.estimate:.4f})"
        if saved is not None:
            beside += f"; saved {saved.ratio:.4f} +-{saved.tolerance:.1%}: {_against_saved(timed, saved)}"
        beside += "; "
    if outcome.informational:
        return (
            f"{outcome.verdict.shown + ' ':<11}{outcome.name}: working tree/{short} {_ratio_text(outcome)} "
            f"(95% interval, timed once for information); {beside}{outcome.processes} processes; {outcome.note}"
        )
    assert outcome.band is not None
    return (
        f"{outcome.verdict.shown + ' ':<11}{outcome.name}: working tree/{short} {_ratio_text(outcome)} "
        f"({interval.confidence:.2%} interval), regression above {outcome.band.upper:.3f}; "
        f"smallest slowdown it catches +{outcome.detectable:.1%}; {beside}{outcome.processes} processes"
        + (f"; {outcome.note}" if outcome.note else "")
    )


def _against_saved(timed: Timings, saved: Band) -> str:
    """Where today's candidate/baseline lies against a saved ratio, by the rule at one look (information only)."""
    values = [v - math.log(saved.ratio) for v in timed.log_ratios("baseline")]
    verdict = decide(values, Band(1.0, saved.tolerance), Design((len(values),), 0.05), 1).verdict
    return {
        Verdict.UNCHANGED: "within (information only)",
        Verdict.REGRESSED: "above (information only)",
        Verdict.IMPROVED: "below (information only)",
        Verdict.INCONCLUSIVE: "across its edge (information only)",
    }[verdict]


def _ratio_text(outcome: Outcome) -> str:
    i = outcome.interval
    return "-" if i is None else f"{i.estimate:.4f} [{i.low:.4f}, {i.high:.4f}]"


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

    With a store location the candidate is the working tree's file there, else `candidate` as imported. Both sides'
    answers are checked first (bench.gate.answers); then the wall clock, then (with_counts) instructions and
    system calls per call of the benchmarks whose answers are the original's; counts_only: the counts alone.
    """
    repo = git.repository(repo_given)
    if rev is None:
        rev, why = measured_at(saved, repo)
        print(f"reference: {rev} ({why})")
    default = Location(location.DEFAULT_STORE, location.DEFAULT_CLASS)
    reference = revision.at(repo, rev, store or default, collector)
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
    counted = partial(count_verdicts, reference, arm, timing.seed) if with_counts else None
    return _times_against(
        reference, arm, text, selected(only), timing, informed, destinations, checked, counted, count_names
    )


def count_verdicts(reference: Snapshot, candidate: Arm, seed: int, names: list[str]) -> Counted:
    """Both sides' instructions and system calls per call, judged by the counts' rule (bench.rule)."""
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
    counted: Callable[[list[str]], Counted] | None,
    count_names: list[str],
) -> ExitCode:
    config = load_config()
    saved, saved_note = informed
    started = time.monotonic()
    differing = answers.differing(names, checked) if checked is not None else {}
    outcomes = judge_against(names, candidate, reference, config, timing, differing)
    if checked is not None:
        outcomes = answers.apply(outcomes, checked)
    judged = [name for name in names if name not in differing]
    rule = rule_text(config, judged, timing.design(config).looks)
    text = checked.lines(reference) if checked is not None else ["answers not checked (--no-answers): times only"]
    text += [f"{candidate_text} (working tree) against the store at {reference.label}; {saved_note}", rule]
    if differing:
        text.append(
            f"timed once, for information ({MIN_PROCESSES} processes), as their answers differ: {', '.join(differing)}"
        )
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
    counts_done = None
    if counted is not None:
        # A count of a method whose answers differ compares different work: it would judge nothing.
        counted_names = [name for name in count_names if name not in differing]
        counts_done = counted(counted_names) if counted_names else None
        if skipped := [name for name in count_names if name in differing]:
            text.append(f"not counted, as their answers differ: {', '.join(skipped)}")
    return finish(outcomes, rows, text, started, destinations, what, context, explanation, failed_answers, counts_done)


def _counts_against(reference: Snapshot, candidate: Arm, candidate_text: str, names: list[str], seed: int) -> ExitCode:
    started = time.monotonic()
    counted = count_verdicts(reference, candidate, seed, names)
    print(f"{candidate_text} (working tree) against the store at {reference.label}")
    print("\n".join(counted.lines))
    failed = sum(v.fails for v in counted.verdicts)
    print(f"{failed} failed, {len(counted.verdicts) - failed} passed in {time.monotonic() - started:.0f} s")
    return ExitCode.FAILED if failed else ExitCode.OK


# --- against the saved ratios ------------------------------------------------------------------------


def judge_saved(
    names: list[str], bands: Mapping[str, Band], engine: Engine, design: Design, config: GateConfig
) -> list[Outcome]:
    """Each benchmark's log(candidate / baseline) less its saved log ratio, by the rule: a regression is a move
    past the saved tolerance, or past the minimum effect where that is wider."""
    moved = {name: Band(1.0, max(bands[name].tolerance, config.minimum_effect(name))) for name in names}
    offsets = {name: math.log(bands[name].ratio) for name in names}
    decided = judge_timed(engine, moved, design, "baseline", offsets=offsets)
    outcomes = []
    for name, (decision, found) in decided.items():
        outcome = Outcome.of(name, decision, found, f"look {decision.look}/{decision.looks}")
        # Shown as candidate/baseline against the saved ratio, as the saved file states it.
        i = decision.interval
        ratio = bands[name].ratio
        outcome.interval = type(i)(i.estimate * ratio, i.low * ratio, i.high * ratio, i.confidence, i.pairs)
        outcome.band = Band(ratio, moved[name].tolerance)
        outcomes.append(outcome)
    return outcomes


def against_saved_ratios(
    *, candidate: str, saved: Path, only: Sequence[str] | None, timing: Timing, destinations: Destinations
) -> ExitCode:
    """candidate/baseline, timed now, against the ratios saved in `saved`."""
    prov = provenance(Fixtures(seed=timing.seed))
    all_names = prov["benchmarks"]
    names = selected(only)
    engine = Engine(Arms(Arm(candidate)), timing.seed, timing.rounds)
    started = time.monotonic()
    bands = load_saved(saved, prov)
    config = load_config()
    outcomes = judge_saved([n for n in names if n in bands], bands, engine, timing.design(config), config)
    outcomes += [Outcome(n, Verdict.UNSAVED, None, None, 0) for n in names if n not in bands]
    if not only:
        outcomes += [Outcome(n, Verdict.MISSING, None, bands[n], 0) for n in bands if n not in all_names]
    text = [f"candidate {candidate} vs baseline, ratios against {results.shown(saved)}:"]
    text += [saved_line(outcome) for outcome in outcomes]
    rows = [saved_row(o) for o in outcomes]
    what = f"{candidate}/baseline against the saved ratios"
    context = {"candidate": candidate, "saved": results.shown(saved)}
    return finish(outcomes, rows, text, started, destinations, what, context)


def saved_line(outcome: Outcome) -> str:
    """The saved-ratio comparison's line."""
    if outcome.verdict is Verdict.MISSING:
        return f"MISSING    {outcome.name}: in the saved ratios but not measured now"
    if outcome.verdict is Verdict.UNSAVED:
        return f"UNSAVED    {outcome.name}: measured now but has no saved ratio (rebaseline)"
    band = outcome.band
    assert band is not None
    return (
        f"{outcome.verdict.shown + ' ':<11}{outcome.name}: candidate/baseline {_ratio_text(outcome)}, "
        f"saved {band.ratio:.4f} (tolerance {band.tolerance:.1%}, regression above {band.upper:.4f}), "
        f"{outcome.processes} processes" + (f"; {outcome.note}" if outcome.note else "")
    )


def rebaseline_saved_ratios(*, candidate: str, saved: Path, timing: Timing, repeats: int) -> ExitCode:
    """REWRITES the saved ratios: each benchmark's median of `repeats` runs, and a tolerance from their spread."""
    if repeats < 2:
        raise UsageError(f"--repeats {repeats}: at least 2, the tolerance comes from their spread")
    prov = provenance(Fixtures(seed=timing.seed))
    engine = Engine(Arms(Arm(candidate)), timing.seed, timing.rounds)
    started = time.monotonic()
    commit = commit_of_measured_store()
    print(rebaseline(saved, engine, prov["benchmarks"], timing.processes, repeats, prov, commit))
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
