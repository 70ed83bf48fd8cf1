"""What a history's points say: the change points of each benchmark's speed, and the commits that changed the answers.

Change points come from E-Divisive means (signal-processing-algorithms, MongoDB's implementation) over the log
ratios, commit after commit, each at the first commit of the new level with its step and a 95% interval.
Answer changes are the commits whose answers differ from the previous checked commit's.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy
from signal_processing_algorithms.energy_statistics import energy_statistics

from bench.errors import UsageError
from bench.model import git, results
from bench.model.operations import find_case
from bench.runners import equivalence

CHANGE_POINT_PVALUE: Final = 0.05
CHANGE_POINT_PERMUTATIONS: Final = 200
STEP_RESAMPLES: Final = 2_000
STEP_CONFIDENCE: Final = 0.95


# --- change points of the speed -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Series:
    """One benchmark's points in commit order: one ratio per commit (the median over machines)."""

    benchmark: str
    commits: list[dict[str, Any]]  # the point documents' commit, date and subject
    estimates: list[float]
    lows: list[float]
    highs: list[float]
    machines: list[list[str]]


def _commit_order(repo: Path | None) -> dict[str, int]:
    if repo is None:
        return {}
    try:
        listed = git.output(repo, "rev-list", "--topo-order", "--reverse", "--all")
    except UsageError:
        return {}
    return {sha: index for index, sha in enumerate(listed.split())}


def _ranks(points: Sequence[dict[str, Any]], repo: Path | None) -> dict[str, int]:
    """Commit order: the points' own generation numbers, else (points saved before they had one) git's order."""
    if all("generation" in p for p in points):
        return {p["commit"]: p["generation"] for p in points}
    return _commit_order(repo)


def series_of(points: Sequence[dict[str, Any]], benchmark: str, repo: Path | None = results.REPO_ROOT) -> Series:
    order = _ranks(points, repo)
    by_commit: dict[str, list[dict[str, Any]]] = {}
    for point in points:
        if point["skipped"] is None and benchmark in point["benchmarks"]:
            by_commit.setdefault(point["commit"], []).append(point)
    ranked = sorted(by_commit, key=lambda sha: (order.get(sha, math.inf), by_commit[sha][0]["date"]))
    series = Series(benchmark, [], [], [], [], [])
    for sha in ranked:
        found = by_commit[sha]
        intervals = [p["benchmarks"][benchmark] for p in found]
        series.commits.append({key: found[0][key] for key in ("commit", "date", "subject")})
        series.estimates.append(statistics.median(i["estimate"] for i in intervals))
        series.lows.append(statistics.median(i["low"] for i in intervals))
        series.highs.append(statistics.median(i["high"] for i in intervals))
        series.machines.append(sorted({p["machine"]["id"] for p in found}))
    return series


def _step_interval(
    before: list[float], after: list[float], edge: tuple[float, float, float, float]
) -> tuple[float, float]:
    """95% interval of median(after) / median(before): bootstrap within segments, or the edge points' own intervals."""
    if len(before) >= 3 and len(after) >= 3:
        rng = random.Random(0)
        ratios = sorted(
            statistics.median(rng.choices(after, k=len(after))) / statistics.median(rng.choices(before, k=len(before)))
            for _ in range(STEP_RESAMPLES)
        )
        tail = (1 - STEP_CONFIDENCE) / 2
        return ratios[int(tail * (STEP_RESAMPLES - 1))], ratios[math.ceil((1 - tail) * (STEP_RESAMPLES - 1))]
    before_low, before_high, after_low, after_high = edge
    return after_low / before_high, after_high / before_low  # too few points: the widest the two allow


def change_points(series: Series) -> list[dict[str, Any]]:
    """E-Divisive means over the log ratios; each change point names the first commit of the new level."""
    if len(series.estimates) < 3:
        return []
    numpy.random.seed(0)  # the permutation test draws at random: the same points give the same answer
    found = energy_statistics.e_divisive(
        numpy.log(numpy.array(series.estimates)),
        pvalue=CHANGE_POINT_PVALUE,
        permutations=CHANGE_POINT_PERMUTATIONS,
    )
    bounds = [0, *sorted(found), len(series.estimates)]
    result = []
    for previous, index, following in zip(bounds, bounds[1:], bounds[2:], strict=False):
        before, after = series.estimates[previous:index], series.estimates[index:following]
        edge = (series.lows[index - 1], series.highs[index - 1], series.lows[index], series.highs[index])
        low, high = _step_interval(before, after, edge)
        result.append(
            {
                "benchmark": series.benchmark,
                **series.commits[index],
                "step": {
                    "estimate": statistics.median(after) / statistics.median(before),
                    "low": low,
                    "high": high,
                    "confidence": STEP_CONFIDENCE,
                },
                "level_before": statistics.median(before),
                "level_after": statistics.median(after),
            }
        )
    return result


def all_change_points(points: Sequence[dict[str, Any]], repo: Path | None = results.REPO_ROOT) -> list[dict[str, Any]]:
    names = sorted({name for p in points for name in p["benchmarks"]})
    return [cp for name in names for cp in change_points(series_of(points, name, repo))]


def with_answers(found: list[dict[str, Any]], points: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each change point marked where its commit's store answers otherwise than the original in the benchmark's
    method ("answers_differ"): a step there is no speed-up or slowdown of the same answers."""
    answers = {p["commit"]: p.get("equivalence") for p in points}
    for cp in found:
        record = answers.get(cp["commit"])
        method = find_case(cp["benchmark"])[0].store_method
        cp["answers_differ"] = record is not None and method in record["differs_in"]
    return found


def step_text(cp: dict[str, Any]) -> str:
    step = cp["step"]
    change = (step["estimate"] - 1) * 100
    text = f"{change:+.1f}% [{(step['low'] - 1) * 100:+.1f}%, {(step['high'] - 1) * 100:+.1f}%]"
    return text + ("; its answers differ from the original's there: no speed-up" if cp.get("answers_differ") else "")


# --- when the answers changed ---------------------------------------------------------------------


def collector_changed(point: dict[str, Any], previous: dict[str, Any] | None) -> bool | None:
    """Whether this commit changed the collector's source since the previous point; None where either is unknown."""
    now, before = (p.get("sources", {}).get("collector_sha256") if p else None for p in (point, previous))
    return None if now is None or before is None else now != before


def answers_text(point: dict[str, Any], previous: dict[str, Any] | None = None) -> str:
    """What a point says of its commit's answers: the store's verdict and its collector's (changed since `previous`,
    or not), or why they were not checked."""
    record = point.get("equivalence")
    if record is None:
        return "not checked" if point["skipped"] is None else "cannot serve"
    return equivalence.answers_text(record, collector_changed(point, previous))


def _state(record: dict[str, Any]) -> tuple[Any, ...]:
    collector = record.get("collector_answers") or {}
    return record["verdict"], tuple(record["differs_in"]), collector.get("verdict"), collector.get("first_difference")


def _one_per_commit(points: Sequence[dict[str, Any]], repo: Path | None) -> list[dict[str, Any]]:
    """One point per commit (the first found), in commit order."""
    order = _ranks(points, repo)
    first: dict[str, dict[str, Any]] = {}
    for point in points:
        first.setdefault(point["commit"], point)
    return sorted(first.values(), key=lambda p: (order.get(p["commit"], math.inf), p["date"]))


def answer_changes(points: Sequence[dict[str, Any]], repo: Path | None = results.REPO_ROOT) -> list[dict[str, Any]]:
    """The commits whose answers (the store's, or its collector's output) differ from the previous checked commit's,
    with both states.

    A commit whose answers were not checked (it could not serve, or --no-answers) is passed over, as
    `git bisect skip` passes over a commit that cannot be tested.
    """
    checked = [p for p in _one_per_commit(points, repo) if p.get("equivalence") is not None]
    changes = []
    for index, (before, after) in enumerate(itertools.pairwise(checked)):
        if _state(before["equivalence"]) != _state(after["equivalence"]):
            changes.append(
                {
                    **{key: after[key] for key in ("commit", "date", "subject")},
                    "previous_commit": before["commit"],
                    "before": answers_text(before, checked[index - 1] if index else None),
                    "after": answers_text(after, before),
                    "first_counterexample": after["equivalence"]["first_counterexample"],
                }
            )
    return changes


def history_table(points: Sequence[dict[str, Any]], names: Sequence[str], repo: Path | None) -> list[str]:
    """One line per commit, oldest first: its answers, and each benchmark's ratio to the baseline with its interval."""
    rows, previous = [], None
    for point in _one_per_commit(points, repo):
        if point["skipped"] is not None:
            speed = f"skipped: {point['skipped']}"
        else:
            found = point["benchmarks"]
            speed = "; ".join(
                f"{name} {found[name]['estimate']:.3f} [{found[name]['low']:.3f}, {found[name]['high']:.3f}]"
                for name in names
                if name in found
            )
        rows.append(
            f"  {point['commit'][:12]} {point['subject'][:40]:<40}  answers: {answers_text(point, previous)}; {speed}"
        )
        previous = point
    return rows
