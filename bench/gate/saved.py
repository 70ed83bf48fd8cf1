"""The saved ratios (results/gate/saved_ratios.json): their provenance, the commit they were measured at, and
rewriting them (--rebaseline) with a tolerance from repeats of unchanged code."""

from __future__ import annotations

import hashlib
import math
import platform
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import storage
from bench.errors import ExitCode, UsageError
from bench.gate.config import GateConfig, load_config
from bench.gate.outcome import Outcome
from bench.gate.result import GateResult
from bench.gate.timed import Timing, judge_timed, selected
from bench.model import git, location, results
from bench.model.fixtures import FORMAT_VERSION, Fixtures
from bench.model.operations import case_name, cases
from bench.model.verdict import Verdict
from bench.rule import Band, Design, shown
from bench.runners.interleaved import Arm, Arms, Engine

SAVED_RATIOS: Final = results.SAVED_RATIOS.path
REBASELINE_REPEATS: Final = 5
# Tolerance = this many times the largest deviation of a repeat from the saved ratio, over the
# rebaseline's repeats of unchanged code. With 5 repeats the largest deviation sits near the 80th
# percentile of run-to-run drift; doubling it is checked, not assumed: nox -s calibrate
# measures the false-alarm rate it gives (results/GATE.md).
SAVED_RATIO_TOLERANCE_PER_SPREAD: Final = 2.0


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


def commit_of_measured_store() -> str:
    """HEAD, which must hold the store measured: the saved file names it as CI's reference."""
    repo = git.repository()
    if changed := git.changed(repo, [location.DEFAULT_FOLDER]):
        raise UsageError(
            f"{location.DEFAULT_FOLDER}/ has uncommitted changes ({changed[0].split()[-1]} ...): commit the store "
            "first, the saved ratios record the commit they were measured at"
        )
    return git.head(repo)


def rebaseline(
    path: Path, engine: Engine, names: list[str], processes: int, repeats: int, prov: dict, commit: str
) -> str:
    """Saves, per benchmark, the median of `repeats` runs' ratios (the rule's trimmed mean of candidate/baseline)
    and a tolerance from their spread."""
    runs = [engine.measure(names, processes) for _ in range(repeats)]
    estimates = {name: [shown(run[name].log_ratios("baseline")).estimate for run in runs] for name in names}
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
    results.write_json_atomically(path, document)
    return "\n".join(lines)


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


def against_saved_ratios(*, candidate: str, saved: Path, only: Sequence[str] | None, timing: Timing) -> GateResult:
    """candidate/baseline, timed now, against the ratios saved in `saved`."""
    prov = provenance(Fixtures(seed=timing.seed))
    all_names = prov["benchmarks"]
    names = selected(only)
    engine = Engine(Arms(Arm(candidate)), timing.seed, timing.rounds)
    started = time.monotonic()
    bands = load_saved(saved, prov)
    config = load_config()
    design = timing.design(config)
    outcomes = judge_saved([n for n in names if n in bands], bands, engine, design, config)
    outcomes += [Outcome(n, Verdict.UNSAVED, None, None, 0) for n in names if n not in bands]
    if not only:
        outcomes += [Outcome(n, Verdict.MISSING, None, bands[n], 0) for n in bands if n not in all_names]
    text = [f"candidate {candidate} vs baseline, ratios against {results.shown(saved)}:"]
    text += [saved_line(outcome) for outcome in outcomes]
    what = f"{candidate}/baseline against the saved ratios"
    context = {"candidate": candidate, "saved": results.shown(saved), "compared": "candidate / baseline"}
    rule = f"regressed when the rule's bound lies past the saved tolerance or the minimum effect, at {design.looks}"
    return GateResult("saved", what, outcomes, text, rule, context, time.monotonic() - started)


def saved_line(outcome: Outcome) -> str:
    """The saved-ratio comparison's line."""
    if outcome.verdict is Verdict.MISSING:
        return f"MISSING    {outcome.name}: in the saved ratios but not measured now"
    if outcome.verdict is Verdict.UNSAVED:
        return f"UNSAVED    {outcome.name}: measured now but has no saved ratio (rebaseline)"
    band = outcome.band
    assert band is not None
    return (
        f"{outcome.verdict.shown + ' ':<11}{outcome.name}: candidate/baseline {outcome.ratio_text()}, "
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
