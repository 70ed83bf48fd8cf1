"""`python -m bench gate --against REV`: the CI perf gate against a revision. Every speed verdict is bench.rule's, on
processes timed by bench.runners.interleaved: the working tree's store and the store at REV in the same fresh
processes, each giving log(working tree / REV) per benchmark. Answers come first: a benchmark of a method whose
answers differ from the frozen original's is timed once, for information, and fails as ANSWERS DIFFER; the rest are
judged at full power, then counted (instructions and system calls per call). The result is a GateResult, which
bench.report.gate_view prints and publishes. The saved-ratio check is bench.gate.saved's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path

from bench.errors import ExitCode, RevisionError, StoreUnusable, ToolMissing, UsageError
from bench.gate import answers, counts, instructions
from bench.gate.config import GateConfig, load_config, rule_text
from bench.gate.outcome import Outcome
from bench.gate.result import Counted, GateResult
from bench.gate.saved import (
    load_saved,
    measured_at,
    provenance,
)
from bench.gate.timed import DEFAULT_CANDIDATE, Timing, informational, judge_timed, selected
from bench.gate.why import Why, diff_against
from bench.model import git, location, progress, results
from bench.model.fixtures import Fixtures
from bench.model.location import Location
from bench.model.operations import find_case
from bench.model.verdict import Verdict
from bench.rule import MIN_PROCESSES, Band, Design, decide, shown
from bench.runners import instructions as counting
from bench.runners.interleaved import Arm, Arms, Engine, Timings
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot

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
    timing: Timing | None = None,
    differing: Mapping[str, str] | None = None,
) -> list[Outcome]:
    """The verdicts of `candidate` (working tree) against the store at `reference`, by the rule.

    differing: the benchmarks whose answers differ, each with why; those are timed once, for information.
    """
    serving_reference(reference, probed=False)  # one that does not even load: a usage error before any process
    timing = timing or Timing()
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
            f"{outcome.verdict.shown + ' ':<11}{outcome.name}: working tree/{short} {outcome.ratio_text()} "
            f"(95% interval, timed once for information); {beside}{outcome.processes} processes; {outcome.note}"
        )
    assert outcome.band is not None
    return (
        f"{outcome.verdict.shown + ' ':<11}{outcome.name}: working tree/{short} {outcome.ratio_text()} "
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


# --- the gate's modes, each what bench.commands.gate calls ---------------------------------------------


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
    allow_different_answers: bool = False,
    check_answers: bool = True,
    why: bool | None = None,
) -> GateResult | ExitCode:
    """The working tree's store against the store at rev (None: the commit `saved` was measured at).

    With a store location the candidate is the working tree's file there, else `candidate` as imported. Both sides'
    answers are checked first (bench.gate.answers); then the wall clock, then (with_counts) instructions and
    system calls per call of the benchmarks whose answers are the original's; counts_only: the counts alone.
    """
    repo = git.repository(repo_given)
    if rev is None:
        rev, reason = measured_at(saved, repo)
        print(f"reference: {rev} ({reason})")
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
    return _times_against(reference, arm, text, selected(only), timing, informed, checked, counted, count_names, why)


def count_verdicts(
    reference: Snapshot, candidate: Arm, seed: int, names: list[str], timed: Sequence[Outcome] = ()
) -> Counted:
    """Both sides' instructions and system calls per call, judged by the counts' rule (bench.rule); the calls per
    count cut to what the slower side's timed call says is enough (bench.runners.instructions.calls_against)."""
    config = load_config()
    calls = {o.name: counting.calls_against(o.name, o.seconds_per_call) for o in timed if o.name in names}
    pairs = counting.measure_against(names, candidate.snapshot or candidate.spec, reference, seed, calls=calls)
    verdicts = [counts.judge_counts(name, pair, config) for name, pair in pairs.items()]
    return Counted(verdicts, reference.commit[:12], config)


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
    checked: answers.Answers | None,
    counted: Callable[[list[str], Sequence[Outcome]], Counted] | None,
    count_names: list[str],
    why: bool | None = None,
) -> GateResult:
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
    text += [against_line(outcome, reference, saved.get(outcome.name)) for outcome in outcomes]
    notes = [] if checked is not None else ["answers not checked (--no-answers): times only"]
    if differing:
        notes.append(f"timed once ({MIN_PROCESSES} processes) and not counted, as their answers differ")
    context = {
        "candidate": candidate_text.partition(" ")[2],
        "store": str(reference.store),
        "against": {"rev": reference.rev, "commit": reference.commit},
        "compared": f"working tree / {reference.commit[:12]}",
        "config": asdict(config) | {"minimum_effects": dict(config.minimum_effects)},
        "rule": rule,
        "answers": checked.as_json() if checked is not None else None,
    }
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
        counts_done = counted(counted_names, outcomes) if counted_names else None
        if counts_done is not None:
            short = reference.commit[:12]
            text += [v.line(short, config) for v in counts_done.verdicts]
    profiled = time.monotonic()
    whys = [] if why is False else _whys(outcomes, counts_done, candidate, reference, timing.seed, open_too=bool(why))
    if whys:
        notes.append(f"why: {len(whys)} benchmarks profiled on both sides in {time.monotonic() - profiled:.0f} s")
    return GateResult(
        "against",
        f"working tree against {reference.label}",
        outcomes,
        text,
        rule,
        context,
        time.monotonic() - started,
        explanation,
        checked,
        failed_answers,
        counts_done,
        notes,
        whys,
    )


def _whys(
    outcomes: list[Outcome],
    counted: Counted | None,
    candidate: Arm,
    reference: Snapshot,
    seed: int,
    *,
    open_too: bool = False,
) -> list[Why]:
    """Both sides profiled, function by function, for each benchmark that failed (on the clock, its answers or its
    counts), and with open_too each still open; at the calls a count of it makes."""
    failed_counts = {v.name for v in counted.verdicts if v.fails} if counted is not None else set()
    chosen = [
        o for o in outcomes if o.fails or o.name in failed_counts or (open_too and o.verdict is Verdict.INCONCLUSIVE)
    ]
    pairs = {v.name: v.pair for v in counted.verdicts} if counted is not None else {}
    found = []
    with progress.task("why: both sides profiled", len(chosen)) as step:
        for outcome in chosen:
            step(outcome.name)
            side = candidate.snapshot or candidate.spec
            found.append(diff_against(outcome, side, reference, seed, pairs.get(outcome.name)))
    return found


def _counts_against(reference: Snapshot, candidate: Arm, candidate_text: str, names: list[str], seed: int) -> ExitCode:
    started = time.monotonic()
    counted = count_verdicts(reference, candidate, seed, names)
    print(f"{candidate_text} (working tree) against the store at {reference.label}")
    print("\n".join(v.line(counted.reference, counted.config) for v in counted.verdicts))
    failed = sum(v.fails for v in counted.verdicts)
    print(f"{failed} failed, {len(counted.verdicts) - failed} passed in {time.monotonic() - started:.0f} s")
    return ExitCode.FAILED if failed else ExitCode.OK


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
