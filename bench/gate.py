"""python -m bench.gate: the CI perf gate, on the ratio candidate/baseline measured in the same processes.

Absolute times do not carry from one machine to another; the frozen baseline, timed in the same
worker process as the candidate and interleaved with it, is the control that makes the ratio
nearly machine-independent. Each benchmark's ratio is compared with the ratio saved in
results/gate/saved_ratios.json (written only by `--rebaseline`, i.e. `nox -s rebaseline`), with a
tolerance measured from the spread of repeated runs of the same code.

Exit codes: 0 pass; 1 a regression, or a saved benchmark not measured now, or a measured one not
saved; 2 usage error, or provenance that makes the comparison meaningless.
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
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import storage
from bench.fixtures import FORMAT_VERSION, Fixtures
from bench.operations import Case, case_name, cases, find_case, prepare
from bench.stats import RatioInterval, ratio_interval

SAVED_RATIOS: Final = Path("results/gate/saved_ratios.json")
SAVED_FORMAT: Final = 1
DEFAULT_CANDIDATE: Final = "optimized"
DEFAULT_PROCESSES: Final = 6
DEFAULT_ROUNDS: Final = 9  # ABBA-interleaved timing rounds per process (odd: the median is one of them)
DEFAULT_SAMPLE_SECONDS: Final = 0.02  # each timing round lasts about this long, per store
DEFAULT_MAX_RERUNS: Final = 2
REBASELINE_REPEATS: Final = 5
# Tolerance = this many times the largest deviation of a repeat from the saved ratio, over the
# rebaseline's repeats of unchanged code. With 5 repeats the largest deviation sits near the 80th
# percentile of run-to-run drift; doubling it is checked, not assumed: nox -s gate-calibration
# measures the false-alarm rate it gives (results/GATE.md).
TOLERANCE_PER_SPREAD: Final = 2.0

PASS, REGRESSION, USAGE = 0, 1, 2


class UsageError(LookupError):
    """Exit 2: the command or the saved file makes the comparison meaningless."""


# --- measuring, in worker processes --------------------------------------------------------------


@dataclass(frozen=True)
class ProcessTiming:
    """One worker process's medians, per call: the unit of replication."""

    candidate_s: float
    baseline_s: float


def _loops_for(case: Case, sample_seconds: float) -> int:
    """Doubles the loop count until one timing lasts sample_seconds (pyperf's calibration, simplified)."""
    loops = 1
    while loops < 1 << 20:
        if case.time(loops) >= sample_seconds:
            return loops
        loops *= 2
    return loops


def time_in_this_process(name: str, candidate: str, seed: int, rounds: int, sample_seconds: float) -> ProcessTiming:
    """Sets up baseline and candidate here, then times them alternately (ABBA) so drift hits both alike."""
    operation, size = find_case(name)
    fixtures = Fixtures(seed=seed)
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as scratch:
        workdirs = Path(scratch, "baseline"), Path(scratch, "candidate")
        for workdir in workdirs:
            workdir.mkdir()
        base = prepare(operation, size, storage.resolve("baseline"), workdirs[0], fixtures)
        cand = prepare(operation, size, storage.resolve(candidate), workdirs[1], fixtures)
        loops = {id(base): _loops_for(base, sample_seconds), id(cand): _loops_for(cand, sample_seconds)}
        per_call: dict[int, list[float]] = {id(base): [], id(cand): []}
        for round_number in range(rounds):
            order = (base, cand) if round_number % 2 == 0 else (cand, base)
            for case in order:
                n = loops[id(case)]
                per_call[id(case)].append(case.time(n) / n)
    return ProcessTiming(statistics.median(per_call[id(cand)]), statistics.median(per_call[id(base)]))


# --- deciding --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedRatio:
    ratio: float  # candidate time / baseline time
    tolerance: float  # a fraction of ratio


@dataclass
class Outcome:
    """One benchmark's verdict: regressed, improved, unchanged, or inconclusive after every re-run."""

    name: str
    verdict: str
    interval: RatioInterval | None
    saved: SavedRatio | None
    processes: int
    timings: list[ProcessTiming] = field(default_factory=list)

    @property
    def fails(self) -> bool:
        return self.verdict.split(" ")[0] in ("regressed", "missing", "unsaved")

    def line(self) -> str:
        if self.verdict == "missing":
            return f"MISSING    {self.name}: in the saved ratios but not measured now"
        if self.verdict == "unsaved":
            return f"UNSAVED    {self.name}: measured {_ratio_text(self.interval)} but has no saved ratio (rebaseline)"
        saved = self.saved
        assert saved is not None and self.interval is not None
        limit = saved.ratio * (1 + saved.tolerance)
        return (
            f"{self.verdict.split(' ')[0].upper():<11}{self.name}: candidate/baseline {_ratio_text(self.interval)}, "
            f"saved {saved.ratio:.4f} (tolerance {saved.tolerance:.1%}, regression above {limit:.4f}), "
            f"{self.processes} processes" + (f"; {self.verdict.partition(' ')[2]}" if " " in self.verdict else "")
        )


def _ratio_text(interval: RatioInterval | None) -> str:
    if interval is None:
        return "-"
    return f"{interval.estimate:.4f} [{interval.low:.4f}, {interval.high:.4f}]"


def cost_ratio(timings: Sequence[ProcessTiming]) -> RatioInterval:
    """Median over processes of candidate/baseline, with its 95% bootstrap interval over processes."""
    # stats.ratio_interval gives baseline/candidate speedups; handing it the pairs swapped gives cost ratios.
    return ratio_interval([t.baseline_s for t in timings], [t.candidate_s for t in timings])


def decide(interval: RatioInterval, saved: SavedRatio) -> str:
    """regressed / improved only when the whole interval is past the tolerance band; inside it, unchanged."""
    upper = saved.ratio * (1 + saved.tolerance)
    lower = saved.ratio * (1 - saved.tolerance)
    if interval.low > upper:
        return "regressed"
    if interval.high < lower:
        return "improved"
    if lower <= interval.low and interval.high <= upper:
        return "unchanged"
    return "inconclusive"


Measure = Callable[[list[str], int], dict[str, list[ProcessTiming]]]


def measure_interleaved(
    candidate: str, seed: int, rounds: int, sample_seconds: float, progress: Callable[[str], None]
) -> Measure:
    """A measure(names, processes) that runs each process fresh (spawned), benchmarks interleaved across them."""

    def measure(names: list[str], processes: int) -> dict[str, list[ProcessTiming]]:
        results: dict[str, list[ProcessTiming]] = {name: [] for name in names}
        total = len(names) * processes
        done = 0
        # One process per task, one task at a time: no two timings compete for the 2 cores.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1) as pool:
            for replicate in range(processes):
                for name in names:
                    done += 1
                    progress(f"[{done}/{total}] {name} process {replicate + 1}/{processes}")
                    timing = pool.submit(time_in_this_process, name, candidate, seed, rounds, sample_seconds)
                    results[name].append(timing.result())
        return results

    return measure


def judge(
    names: list[str], saved: dict[str, SavedRatio], measure: Measure, processes: int, max_reruns: int
) -> list[Outcome]:
    """Measure; pool more processes into the inconclusive (bounded); confirm every regression afresh.

    A regression fails only if fresh processes show it again (regressed, or an estimate past the
    limit): one noisy burst on a shared machine must not fail CI, a real regression persists.
    Whatever stays inconclusive after the re-runs fails only if its estimate is past the limit and fresh
    processes then show the whole interval past it.
    """
    timings = measure(names, processes)
    outcomes = {name: _outcome(name, timings[name], saved[name]) for name in names}
    for _ in range(max_reruns):
        unsettled = [name for name, o in outcomes.items() if o.verdict == "inconclusive"]
        if not unsettled:
            break
        more = measure(unsettled, processes)
        for name in unsettled:
            outcomes[name] = _outcome(name, outcomes[name].timings + more[name], saved[name])

    suspects = [name for name, o in outcomes.items() if o.verdict == "regressed"]
    if suspects:
        again = measure(suspects, processes)
        for name in suspects:
            confirmation = _outcome(name, again[name], saved[name])
            if not _past_limit(confirmation):
                outcomes[name].verdict = f"unchanged (regression not confirmed: {_ratio_text(confirmation.interval)})"

    # Still inconclusive: an estimate past the limit is a suspect like any other, and fails only if fresh
    # processes put the whole interval past the limit (calibration: deciding by the estimate alone gave
    # the false alarms on save_latency_stats[1000]).
    leaning = [name for name, o in outcomes.items() if o.verdict == "inconclusive" and _past_limit(o)]
    again = measure(leaning, processes) if leaning else {}
    for name, outcome in outcomes.items():
        if outcome.verdict != "inconclusive":
            continue
        if name not in again:
            outcome.verdict = "unchanged (inconclusive, estimate within the limit)"
            continue
        confirmation = _outcome(name, again[name], saved[name])
        if confirmation.verdict == "regressed":
            outcome.verdict = f"regressed (estimate past the limit, confirmed: {_ratio_text(confirmation.interval)})"
        else:
            outcome.verdict = f"unchanged (inconclusive, not confirmed: {_ratio_text(confirmation.interval)})"
    return list(outcomes.values())


def _past_limit(outcome: Outcome) -> bool:
    assert outcome.interval is not None and outcome.saved is not None
    if outcome.verdict == "regressed":
        return True
    return outcome.verdict == "inconclusive" and outcome.interval.estimate > outcome.saved.ratio * (
        1 + outcome.saved.tolerance
    )


def _outcome(name: str, timings: list[ProcessTiming], saved: SavedRatio) -> Outcome:
    interval = cost_ratio(timings)
    return Outcome(name, decide(interval, saved), interval, saved, len(timings), timings)


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


def load_saved(path: Path, expected: dict[str, Any]) -> dict[str, SavedRatio]:
    if not path.is_file():
        raise UsageError(f"no saved ratios at {path}: run `nox -s rebaseline` to create them")
    try:
        document = json.loads(path.read_text())
        saved_provenance = document["provenance"]
        benchmarks = document["benchmarks"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise UsageError(f"{path} is not a saved-ratios file ({e!r}): rebaseline") from e
    if document.get("format") != SAVED_FORMAT:
        raise UsageError(f"{path} has format {document.get('format')!r}, this gate reads {SAVED_FORMAT}")
    for key in ("baseline_sha256", "fixture_seed", "fixture_version"):
        if saved_provenance.get(key) != expected[key]:
            raise UsageError(
                f"provenance mismatch on {key}: saved {saved_provenance.get(key)!r}, now {expected[key]!r}; "
                "the saved ratios were measured against a different control or fixtures: rebaseline on purpose"
            )
    return {name: SavedRatio(entry["ratio"], entry["tolerance"]) for name, entry in benchmarks.items()}


def tolerances(repeat_estimates: dict[str, list[float]]) -> dict[str, tuple[float, float]]:
    """Saved ratio and tolerance per benchmark, from repeats of unchanged code (A/A).

    Each benchmark's own band is TOLERANCE_PER_SPREAD times its largest repeat-to-median deviation.
    A handful of repeats can agree by luck, so no band is narrower than the median band over all
    benchmarks: run-to-run drift is a property of the machine as much as of the benchmark.
    """
    ratios = {name: statistics.median(estimates) for name, estimates in repeat_estimates.items()}
    own = {
        name: TOLERANCE_PER_SPREAD * max(abs(e / ratios[name] - 1) for e in estimates)
        for name, estimates in repeat_estimates.items()
    }
    pooled = statistics.median(own.values())
    return {name: (ratios[name], max(own[name], pooled)) for name in repeat_estimates}


def rebaseline(path: Path, measure: Measure, names: list[str], processes: int, repeats: int, prov: dict) -> str:
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
        "format": SAVED_FORMAT,
        "provenance": prov,
        "measured": {
            "processes": processes,
            "repeats": repeats,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "processor": platform.processor() or platform.machine(),
            "date": time.strftime("%Y-%m-%d"),
        },
        "benchmarks": benchmarks,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return "\n".join(lines)


# --- command line -----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gate",
        description=(
            "Fail when a candidate's time relative to the frozen baseline, measured interleaved in fresh "
            "worker processes, regresses past the ratio saved in results/gate/saved_ratios.json."
        ),
        epilog="Exit status: 0 pass; 1 regression, or missing/unsaved benchmark; 2 usage or provenance error.",
    )
    parser.add_argument("--candidate", default=DEFAULT_CANDIDATE, help="registry name or package.module:Class")
    parser.add_argument("--saved", type=Path, default=SAVED_RATIOS, help="saved ratios file (default: %(default)s)")
    parser.add_argument("--processes", type=int, default=DEFAULT_PROCESSES, help="worker processes per benchmark")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="interleaved timing rounds per process")
    parser.add_argument("--max-reruns", type=int, default=DEFAULT_MAX_RERUNS, help="re-runs of inconclusive ones")
    parser.add_argument("--only", action="append", metavar="NAME", help='benchmark "op[size]"; repeatable')
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write every outcome as JSON here")
    parser.add_argument("--seed", type=int, default=Fixtures().seed, help="fixture seed (default: %(default)s)")
    parser.add_argument(
        "--rebaseline",
        action="store_true",
        help=f"measure {REBASELINE_REPEATS} times and REWRITE the saved ratios (what nox -s rebaseline runs)",
    )
    parser.add_argument("--repeats", type=int, default=REBASELINE_REPEATS, help="repeats for --rebaseline")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="gate on callgrind instruction counts per call instead (results/instructions/saved_counts.json)",
    )
    parser.add_argument("--quick", action="store_true", help="the quick sizes only (with --instructions)")
    return parser


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (UsageError, LookupError) as e:
        print(f"bench.gate: error: {e}", file=sys.stderr)
        return USAGE


def _run(args: argparse.Namespace) -> int:
    if args.processes < 2 or args.rounds < 1 or args.max_reruns < 0 or args.repeats < 2:
        raise UsageError("need --processes >= 2, --rounds >= 1, --max-reruns >= 0, --repeats >= 2")
    storage.resolve(args.candidate)  # a bad name is a usage error before anything runs
    if args.instructions:
        return _run_instructions(args)
    fixtures = Fixtures(seed=args.seed)
    prov = provenance(fixtures)
    all_names = prov["benchmarks"]
    names = all_names if not args.only else [case_name(*find_case(n)) for n in args.only]
    measure = measure_interleaved(args.candidate, args.seed, args.rounds, DEFAULT_SAMPLE_SECONDS, _progress)
    started = time.monotonic()
    if args.rebaseline:
        if args.only:
            raise UsageError("--rebaseline rewrites every saved ratio: it takes no --only")
        print(rebaseline(args.saved, measure, names, args.processes, args.repeats, prov))
        print(f"rewrote {args.saved} in {time.monotonic() - started:.0f} s")
        return PASS

    saved = load_saved(args.saved, prov)
    outcomes = judge([n for n in names if n in saved], saved, measure, args.processes, args.max_reruns)
    outcomes += [Outcome(n, "unsaved", None, None, 0) for n in names if n not in saved]
    if not args.only:
        outcomes += [Outcome(n, "missing", None, saved[n], 0) for n in saved if n not in all_names]
    print(f"candidate {args.candidate} vs baseline, ratios against {args.saved}:")
    for outcome in outcomes:
        print(outcome.line())
    failed = [o for o in outcomes if o.fails]
    elapsed = time.monotonic() - started
    print(f"{len(failed)} failed, {len(outcomes) - len(failed)} passed in {elapsed:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([_as_json(o) for o in outcomes], indent=2) + "\n")
    return REGRESSION if failed else PASS


def _run_instructions(args: argparse.Namespace) -> int:
    from bench import instructions

    saved_path = args.saved if args.saved != SAVED_RATIOS else instructions.SAVED_COUNTS
    saved = instructions.load(saved_path, instructions.provenance(args.seed))
    names = instructions.selected_names(args.quick, args.only)
    started = time.monotonic()
    try:
        now = instructions.measure_all(names, [args.candidate], instructions.DEFAULT_CALLS, args.seed, _progress)
    except instructions.ToolMissing as e:
        raise UsageError(str(e)) from e
    results = instructions.check(saved, now, args.candidate)
    print(f"candidate {args.candidate}, instruction counts against {saved_path}:")
    for _, line in results:
        print(line)
    failed = sum(failed for failed, _ in results)
    print(f"{failed} failed, {len(results) - failed} passed in {time.monotonic() - started:.0f} s")
    return REGRESSION if failed else PASS


def _as_json(outcome: Outcome) -> dict[str, Any]:
    document = asdict(outcome)
    document["fails"] = outcome.fails
    if outcome.interval is not None and not math.isfinite(outcome.interval.estimate):
        document["interval"] = None
    return document


if __name__ == "__main__":
    sys.exit(main())
