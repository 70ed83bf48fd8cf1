"""Per-commit history of the store's speed and answers, its change points, and the bisection of a slowdown.

    python -m bench history main~30..main          # each commit that changed storage/, oldest first
    python -m bench history --last 10 --shard 1/3  # this runner's third of the last 10
    python -m bench history --points-only --json history.json   # change points of the points already saved
    python -m bench find GOOD BAD --only "save_latency_stats[1000]"
    metrics-store-bench history --last 20 --store src/astraguard/hil/metrics/storage.py   # in the application

Each point is the ratio of a commit's store to the frozen baseline, both timed interleaved in the same
fresh worker processes (bench.gate.check's measurement), so points measured on different machines belong to
one history; and whether that commit's answers are the frozen original's, by a quick deterministic pass
of the equivalence suite (bench.runners.equivalence), with the operations that differ. A point is one
JSON file per commit and machine under results/history/; a commit already measured on this machine is
skipped, so a run resumes, and shards merge by copying the files together. A commit whose store cannot
serve (bench.model.snapshot: it does not compile or import, lacks a method, is async, changed a
signature) is a point too, skipped with the reason. Change points come from E-Divisive means
(signal-processing-algorithms, MongoDB's implementation) over the log ratios, commit after commit;
behaviour changes are the commits whose answers differ from the previous checked commit's.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy
from signal_processing_algorithms.energy_statistics import energy_statistics

from bench.errors import ExitCode, RevisionError, StoreUnusable, UsageError
from bench.gate import check as gate
from bench.model import git, progress, results, snapshot
from bench.model.candidates import BASELINE, check_control, source_sha256
from bench.model.fixtures import FORMAT_VERSION
from bench.model.operations import case_name, cases, find_case
from bench.model.options import (
    add_only_option,
    add_publish_options,
    add_seed_option,
    add_store_options,
    collector_location,
    store_location,
)
from bench.model.publish import Row, Summary, publish
from bench.model.snapshot import Location
from bench.model.stats import RatioInterval
from bench.runners import equivalence

HELP: Final = (
    "Measure each commit's store against the frozen baseline (one point per commit and machine under "
    "results/history/), then find the change points per benchmark with E-Divisive means. Skipped commits "
    "are recorded, not errors."
)
HISTORY_DIR: Final = results.HISTORY_POINT.path
POINT_FORMAT: Final = results.HISTORY_POINT.format
DEFAULT_PROCESSES: Final = 4  # the quick settings: a history is many commits
DEFAULT_ROUNDS: Final = 6
CHANGE_POINT_PVALUE: Final = 0.05
CHANGE_POINT_PERMUTATIONS: Final = 200
STEP_RESAMPLES: Final = 2_000
STEP_CONFIDENCE: Final = 0.95


# --- commits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str  # committer date, ISO 8601
    subject: str


def generation(repo: Path, sha: str) -> int:
    """How many commits the commit's history holds: an order of commits that every shard and range agrees on."""
    return int(git.output(repo, "rev-list", "--count", sha).strip())


def commits_in(repo: Path, rev_range: str | None, last: int | None, paths: Sequence[str]) -> list[Commit]:
    """The commits of a range (git syntax) or the last N, that changed `paths` (none: every commit), oldest first."""
    where = ["--", *paths] if paths else []
    if last is not None:
        listed = git.output(repo, "log", f"-n{last}", "--format=%H%x00%cI%x00%s", "HEAD", *where)
        lines = list(reversed(listed.splitlines()))
    else:
        assert rev_range is not None
        lines = git.output(repo, "log", "--reverse", "--format=%H%x00%cI%x00%s", rev_range, *where).splitlines()
    return [Commit(*line.split("\0", 2)) for line in lines if line]


def shard(commits: Sequence[Commit], spec: str | None) -> list[Commit]:
    """--shard K/N: every N-th commit from the K-th (1-based), so each runner gets old and new ones alike."""
    if spec is None:
        return list(commits)
    try:
        k, n = (int(part) for part in spec.split("/"))
    except ValueError:
        raise UsageError(f"--shard {spec!r}: want K/N, e.g. 2/4") from None
    if not 1 <= k <= n:
        raise UsageError(f"--shard {spec!r}: want 1 <= K <= N")
    return list(commits[k - 1 :: n])


# --- machines and points -----------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """What tells one machine's points from another's; its id names the point files."""
    described = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "system": f"{platform.system()} {platform.machine()}",
    }
    digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:10]
    return {"id": digest, **described}


POINT_FILE: Final = re.compile(r"[0-9a-f]{12}-[0-9a-f]{10}\.json")


def point_path(folder: Path, sha: str, machine_id: str) -> Path:
    return folder / f"{sha[:12]}-{machine_id}.json"


def _interval_json(interval: RatioInterval) -> dict[str, float | int]:
    return {
        "estimate": interval.estimate,
        "low": interval.low,
        "high": interval.high,
        "confidence": interval.confidence,
        "processes": interval.pairs,
    }


def write_point(path: Path, document: dict[str, Any]) -> None:
    """Atomic: an interrupt leaves no half-written point."""
    results.write_json_atomically(path, document)


def load_points(folder: Path) -> list[dict[str, Any]]:
    """Every point saved under folder; one of another format or measured against another baseline is refused."""
    points = []
    for path in sorted(folder.glob("*.json")):
        if not POINT_FILE.fullmatch(path.name):
            continue  # not a point: e.g. a --json summary written beside them
        document = results.HISTORY_POINT.load(path)  # unreadable or another format: a UsageError naming it
        check_control(document["provenance"]["baseline_sha256"], str(path))
        points.append(document)
    return points


# --- measuring a commit ------------------------------------------------------------------------------


def store_record(store: Location, collector: Location) -> dict[str, str]:
    return {"path": store.path, "class": store.name, "collector": str(collector)}


def _store_of(point: dict[str, Any]) -> dict[str, str]:
    """The store a point measured; points saved before they recorded it measured this repository's default."""
    default = Location(snapshot.DEFAULT_STORE, snapshot.DEFAULT_CLASS)
    return point.get("store") or store_record(default, snapshot.sibling_collector(default))


def measure_commit(
    commit: Commit,
    names: list[str],
    *,
    repo: Path,
    store: Location,
    collector: Location | None,
    processes: int,
    rounds: int,
    seed: int,
    answers: bool = True,
) -> dict[str, Any]:
    """The commit's point: its store's answers and speed against the frozen baseline, or why it was skipped."""
    document: dict[str, Any] = {
        "format": POINT_FORMAT,
        "commit": commit.sha,
        "date": commit.date,
        "subject": commit.subject,
        "generation": generation(repo, commit.sha),
        "machine": machine(),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "provenance": {
            "baseline_sha256": source_sha256(BASELINE),
            "fixture_seed": seed,
            "fixture_version": FORMAT_VERSION,
        },
        "settings": {"processes": processes, "rounds": rounds},
        "store": store_record(store, collector or snapshot.sibling_collector(store)),
        "benchmarks": {},
        "equivalence": None,
        "skipped": None,
    }
    try:
        loaded = snapshot.at(repo, commit.sha, store, collector)
        snapshot.load(loaded, probed=True)  # fails fast, in this process, when the store cannot serve
    except (RevisionError, StoreUnusable) as e:
        document["skipped"] = str(e)
        return document
    if answers:
        document["equivalence"] = equivalence.check_snapshot(loaded)
    try:
        measure = gate.measure_interleaved(gate.Arms(gate.Arm.of(loaded)), seed, rounds, gate.DEFAULT_SAMPLE_SECONDS)
        timings = measure(names, processes)
    except (RevisionError, StoreUnusable) as e:  # it loaded, but fails a benchmark's answer check
        document["skipped"] = str(e)
        return document
    document["benchmarks"] = {name: _interval_json(gate.cost_ratio(timings[name])) for name in names}
    return document


# --- change points -----------------------------------------------------------------------------------


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


def step_text(cp: dict[str, Any]) -> str:
    step = cp["step"]
    change = (step["estimate"] - 1) * 100
    return f"{change:+.1f}% [{(step['low'] - 1) * 100:+.1f}%, {(step['high'] - 1) * 100:+.1f}%]"


# --- command line: history ---------------------------------------------------------------------------


def names_of(only: Sequence[str] | None) -> list[str]:
    """The benchmarks named by --only, else the quick ones: a history is many commits."""
    if not only:
        return [case_name(op, size) for op, size in cases(quick=True)]
    return [case_name(*find_case(name)) for name in only]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("rev_range", nargs="?", metavar="REV_RANGE", help="git range, e.g. main~30..main")
    which.add_argument("--last", type=int, metavar="N", help="the last N commits (of those changing --paths)")
    which.add_argument("--points-only", action="store_true", help="measure nothing: change points of saved points")
    add_only_option(parser.add_argument)
    add_publish_options(parser.add_argument)
    parser.add_argument("--shard", metavar="K/N", help="measure only the K-th of N interleaved shares of the commits")
    parser.add_argument(
        "--paths",
        nargs="*",
        default=None,
        help="only commits that changed these paths (default: the store's folder, and the collector's; "
        "none given: every commit)",
    )
    parser.add_argument(
        "--output", type=Path, default=HISTORY_DIR, help=f"where points go (default: {results.shown(HISTORY_DIR)})"
    )
    parser.add_argument(
        "--no-answers",
        dest="answers",
        action="store_false",
        help="time each commit only, without the quick equivalence pass (about 5 s a commit) that says whether "
        "its answers are the frozen original's",
    )
    add_store_options(parser.add_argument)
    add_timing_options(parser)


def add_timing_options(parser: argparse.ArgumentParser) -> None:
    """The options history and find share: the quick settings of the gate's timing."""
    parser.add_argument("--processes", type=int, default=DEFAULT_PROCESSES, help="worker processes per benchmark")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="interleaved timing rounds per process")
    add_seed_option(parser.add_argument)


def default_paths(store: Location, collector: Location) -> list[str]:
    """The store's folder and the collector's: a commit that changed neither changed nothing measured."""
    return list(dict.fromkeys(location.folder or location.path for location in (store, collector)))


def answers_text(point: dict[str, Any]) -> str:
    """What a point says of its commit's answers: identical, differs in which operations, or why it was not checked."""
    record = point.get("equivalence")
    if record is None:
        return "not checked" if point["skipped"] is None else "cannot serve"
    if record["differs_in"]:
        return f"{record['verdict']} in {', '.join(record['differs_in'])}"
    return record["verdict"]


def _one_per_commit(points: Sequence[dict[str, Any]], repo: Path | None) -> list[dict[str, Any]]:
    """One point per commit (the first found), in commit order."""
    order = _ranks(points, repo)
    first: dict[str, dict[str, Any]] = {}
    for point in points:
        first.setdefault(point["commit"], point)
    return sorted(first.values(), key=lambda p: (order.get(p["commit"], math.inf), p["date"]))


def answer_changes(points: Sequence[dict[str, Any]], repo: Path | None = results.REPO_ROOT) -> list[dict[str, Any]]:
    """The commits whose answers differ from the previous checked commit's, with both states.

    A commit whose answers were not checked (it could not serve, or --no-answers) is passed over, as
    `git bisect skip` passes over a commit that cannot be tested.
    """
    checked = [p for p in _one_per_commit(points, repo) if p.get("equivalence") is not None]
    changes = []
    for before, after in itertools.pairwise(checked):
        was, now = before["equivalence"], after["equivalence"]
        if (was["verdict"], was["differs_in"]) != (now["verdict"], now["differs_in"]):
            changes.append(
                {
                    **{key: after[key] for key in ("commit", "date", "subject")},
                    "previous_commit": before["commit"],
                    "before": answers_text(before),
                    "after": answers_text(after),
                    "first_counterexample": now["first_counterexample"],
                }
            )
    return changes


def history_table(points: Sequence[dict[str, Any]], names: Sequence[str], repo: Path | None) -> list[str]:
    """One line per commit, oldest first: its answers, and each benchmark's ratio to the baseline with its interval."""
    rows = []
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
        rows.append(f"  {point['commit'][:12]} {point['subject'][:40]:<40}  answers: {answers_text(point)}; {speed}")
    return rows


def run(args: argparse.Namespace) -> ExitCode:
    if args.processes < 2 or args.rounds < 1:
        raise UsageError("need --processes >= 2 and --rounds >= 1")
    repo = git.repository(args.repo)
    store, collector = store_location(args), collector_location(args)
    record = store_record(store, collector or snapshot.sibling_collector(store))
    paths = default_paths(store, collector or snapshot.sibling_collector(store)) if args.paths is None else args.paths
    names = names_of(args.only)
    if not args.points_only:
        commits = shard(commits_in(repo, args.rev_range, args.last, paths), args.shard)
        here = machine()
        started = time.monotonic()
        print(
            f"history of {store} in {repo}: {len(commits)} commits x {len(names)} benchmarks on machine "
            f"{here['id']} ({here['cpu']})" + ("" if args.answers else "; answers not checked (--no-answers)")
        )
        with progress.task("history", len(commits)) as step:
            for commit in commits:
                step(f"{commit.sha[:12]} {commit.subject[:60]}")
                path = point_path(args.output, commit.sha, here["id"])
                if path.is_file():
                    if _store_of(results.HISTORY_POINT.load(path)) != record:
                        raise UsageError(
                            f"{path} measured another store ({_store_of(results.HISTORY_POINT.load(path))['path']}): "
                            "give another --output for this one"
                        )
                    print(f"{commit.sha[:12]} already measured here: {path.name}")
                    continue
                point = measure_commit(
                    commit,
                    names,
                    repo=repo,
                    store=store,
                    collector=collector,
                    processes=args.processes,
                    rounds=args.rounds,
                    seed=args.seed,
                    answers=args.answers,
                )
                write_point(path, point)
                if point["equivalence"] is not None:
                    print(f"{commit.sha[:12]} answers: {answers_text(point)}")
                if point["skipped"] is not None:
                    print(f"{commit.sha[:12]} skipped: {point['skipped']}")
                else:
                    for name, found in point["benchmarks"].items():
                        print(
                            f"{commit.sha[:12]} {name}: {found['estimate']:.4f} "
                            f"[{found['low']:.4f}, {found['high']:.4f}] of baseline"
                        )
        print(f"measured in {time.monotonic() - started:.0f} s")
    points = [
        p
        for p in load_points(args.output)
        if _store_of(p) == record and (p["skipped"] is not None or set(names) & set(p["benchmarks"]))
    ]
    found = [cp for cp in all_change_points(points, repo) if cp["benchmark"] in names]
    changes = answer_changes(points, repo)
    text = [f"history of {store}: ratio to the frozen baseline [95% interval], oldest first:"]
    text += history_table(points, names, repo)
    text.append(f"change points ({len(found)}), E-Divisive means, p < {CHANGE_POINT_PVALUE}:")
    text += [f"  {cp['benchmark']}: at {cp['commit'][:12]} {cp['subject'][:60]}: step {step_text(cp)}" for cp in found]
    text.append(f"answer changes ({len(changes)}), against the frozen original:")
    text += [
        f"  at {change['commit'][:12]} {change['subject'][:60]}: {change['before']} -> {change['after']}"
        for change in changes
    ]
    print("\n".join(text))
    measured = [p for p in points if p["skipped"] is None]
    summary = Summary(
        kind="history",
        title="Store history",
        headline=f"{len(found)} change point{'s' if len(found) != 1 else ''} and {len(changes)} answer "
        f"change{'s' if len(changes) != 1 else ''} in {len(measured)} measured commits x {len(names)} benchmarks "
        f"({len(points) - len(measured)} skipped)",
        passed=True,
        rows=[_change_point_row(cp) for cp in found],
        report="\n".join(text),
        details={"store": record, "points": points, "change_points": found, "answer_changes": changes},
    )
    for path in publish(summary, args.markdown, args.json):
        print(f"summary written to {path}", file=sys.stderr)
    return ExitCode.OK


def _change_point_row(cp: dict[str, Any]) -> Row:
    step = cp["step"]
    return Row.of(
        cp["benchmark"],
        f"level after / before {cp['commit'][:12]}",
        RatioInterval(step["estimate"], step["low"], step["high"], step["confidence"], 0),
        "slower from here" if step["estimate"] > 1 else "faster from here",
        note=f"{cp['subject'][:60]}; ratio to baseline {cp['level_before']:.4f} -> {cp['level_after']:.4f}",
    )
