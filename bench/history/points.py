"""Per-commit history of the store's speed and answers: a point per commit, and the history command's work.

Each point is the ratio of a commit's store to the frozen baseline, both timed interleaved in the same
fresh worker processes (bench.gate.check's measurement), so points measured on different machines belong to
one history; and whether that commit's answers are the frozen original's, by a quick deterministic pass
of the equivalence suite (bench.runners.equivalence), with the operations that differ. A point is one
JSON file per commit and machine under results/history/; a commit already measured on this machine is
skipped, so a run resumes, and shards merge by copying the files together. A commit whose store cannot
serve (bench.stores.snapshot: it does not compile or import, lacks a method, is async, changed a
signature) is a point too, skipped with the reason. What the points say, the change points of the speed
and the commits that changed the answers, is bench.history.changes'.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from bench.errors import ExitCode, RevisionError, StoreUnusable, UsageError
from bench.gate import check as gate
from bench.history.changes import (
    CHANGE_POINT_PVALUE,
    all_change_points,
    answer_changes,
    answers_text,
    history_table,
    step_text,
    with_answers,
)
from bench.model import git, location, progress, results
from bench.model.fixtures import FORMAT_VERSION
from bench.model.location import Location
from bench.model.operations import case_name, cases, find_case
from bench.model.publish import Row, Summary, publish
from bench.model.stats import RatioInterval
from bench.runners import equivalence
from bench.stores import loading, revision, snapshot
from bench.stores.candidates import BASELINE, check_control, source_sha256

HISTORY_DIR: Final = results.HISTORY_POINT.path
POINT_FORMAT: Final = results.HISTORY_POINT.format
DEFAULT_PROCESSES: Final = 4  # the quick settings: a history is many commits
DEFAULT_ROUNDS: Final = 6


# --- commits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str  # committer date, ISO 8601
    subject: str


def generation(repo: Path, sha: str) -> int:
    """How many commits the commit's history holds: an order of commits that every shard and range agrees on."""
    return int(git.output(repo, "rev-list", "--count", sha).strip())


def commits_in(
    repo: Path, rev_range: str | None, last: int | None, paths: Sequence[str], *, first_parent: bool = True
) -> list[Commit]:
    """The commits of a range (git syntax) or the last N, that changed `paths` (none: every commit), oldest first.

    first_parent: main as it was after each merge (asv's and `git bisect --first-parent`'s walk): a merge is one
    step, listed when it changed `paths` against its first parent, and side branches are not walked.
    """
    where = ["--", *paths] if paths else []
    walk = ["--first-parent"] if first_parent else []
    if last is not None:
        listed = git.output(repo, "log", *walk, f"-n{last}", "--format=%H%x00%cI%x00%s", "HEAD", *where)
        lines = list(reversed(listed.splitlines()))
    else:
        assert rev_range is not None
        lines = git.output(repo, "log", *walk, "--reverse", "--format=%H%x00%cI%x00%s", rev_range, *where).splitlines()
    return [Commit(*line.split("\0", 2)) for line in lines if line]


def first_parent_line(repo: Path, rev_range: str | None) -> set[str]:
    """Every commit of the first-parent line that ends at the range's tip (HEAD without a range)."""
    tips = [line for line in git.output(repo, "rev-parse", rev_range or "HEAD").split() if not line.startswith("^")]
    return set(git.output(repo, "rev-list", "--first-parent", *tips).split())


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
        document = results.HISTORY_POINT.load(path)  # unreadable, another format or schema: a UsageError naming it
        named = point_path(folder, document["commit"], document["machine"]["id"]).name
        if named != path.name:  # a point copied under another name would be read as another commit's
            raise UsageError(f"{path} holds the point of {named}: a point's file name is its commit and machine")
        check_control(document["provenance"]["baseline_sha256"], str(path))
        points.append(document)
    return points


# --- measuring a commit ------------------------------------------------------------------------------


def store_record(store: Location, collector: Location) -> dict[str, str]:
    return {"path": store.path, "class": store.name, "collector": str(collector)}


def _store_of(point: dict[str, Any]) -> dict[str, str]:
    """The store a point measured; points saved before they recorded it measured this repository's default."""
    default = Location(location.DEFAULT_STORE, location.DEFAULT_CLASS)
    return point.get("store") or store_record(default, location.sibling_collector(default))


def start_point(
    commit: Commit,
    *,
    repo: Path,
    store: Location,
    collector: Location | None,
    processes: int,
    rounds: int,
    seed: int,
) -> tuple[dict[str, Any], snapshot.Snapshot | None]:
    """The commit's point before anything is measured, and its store loaded (None: skipped, the point says why)."""
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
        "store": store_record(store, collector or location.sibling_collector(store)),
        "benchmarks": {},
        "equivalence": None,
        "skipped": None,
    }
    try:
        loaded = revision.at(repo, commit.sha, store, collector)
    except RevisionError as e:
        document["skipped"] = str(e)
        return document, None
    document["sources"] = {
        "store_sha256": loaded.source_sha256(loaded.store),
        "collector_sha256": loaded.source_sha256(loaded.collector),
    }
    try:
        loading.load(loaded, probed=True)  # fails fast, in this process, when the store cannot serve
    except StoreUnusable as e:
        document["skipped"] = str(e)
        return document, None
    return document, loaded


def check_answers(loaded: Sequence[snapshot.Snapshot]) -> list[dict[str, Any]]:
    """Each store's quick equivalence pass, two at a time: a pytest process each, and nothing is timed meanwhile."""
    with progress.task("answers", len(loaded)) as step, ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(equivalence.check_snapshot, one) for one in loaded]
        records = []
        for one, future in zip(loaded, futures, strict=True):
            step(f"{one.commit[:12]} answers")
            records.append(future.result())
    return records


def time_point(
    document: dict[str, Any], loaded: snapshot.Snapshot, names: list[str], processes: int, rounds: int, seed: int
) -> None:
    """The store's speed against the frozen baseline into the point, or why it was skipped after all."""
    try:
        measure = gate.measure_interleaved(gate.Arms(gate.Arm.of(loaded)), seed, rounds, gate.DEFAULT_SAMPLE_SECONDS)
        timings = measure(names, processes)
    except (RevisionError, StoreUnusable) as e:  # it loaded, but fails a benchmark's answer check
        document["skipped"] = str(e)
        return
    document["benchmarks"] = {name: _interval_json(gate.cost_ratio(timings[name])) for name in names}


# --- the history command's work ----------------------------------------------------------------------


def names_of(only: Sequence[str] | None) -> list[str]:
    """The benchmarks named by --only, else the quick ones: a history is many commits."""
    if not only:
        return [case_name(op, size) for op, size in cases(quick=True)]
    return [case_name(*find_case(name)) for name in only]


def default_paths(store: Location, collector: Location) -> list[str]:
    """The store's folder and the collector's: a commit that changed neither changed nothing measured."""
    return list(dict.fromkeys(location.folder or location.path for location in (store, collector)))


def history(
    *,
    store: Location,
    collector: Location | None,
    repo_given: Path | None,
    rev_range: str | None,
    last: int | None,
    points_only: bool,
    only: Sequence[str] | None,
    shard_spec: str | None,
    paths_given: Sequence[str] | None,
    output: Path,
    answers: bool,
    processes: int,
    rounds: int,
    seed: int,
    markdown: Path | None,
    json_path: Path | None,
    first_parent: bool = True,
) -> ExitCode:
    """Measures the commits not yet measured on this machine, then prints (and publishes) what the points say: those
    on the first-parent line (every saved one with first_parent False), in commit order."""
    if processes < 2 or rounds < 1:
        raise UsageError("need --processes >= 2 and --rounds >= 1")
    repo = git.repository(repo_given)
    fed = collector or location.sibling_collector(store)
    record = store_record(store, fed)
    paths = default_paths(store, fed) if paths_given is None else paths_given
    names = names_of(only)
    if not points_only:
        commits = shard(commits_in(repo, rev_range, last, paths, first_parent=first_parent), shard_spec)
        here = machine()
        started = time.monotonic()
        walk = "first-parent commits" if first_parent else "commits, side branches included (--all-parents)"
        print(
            f"history of {store} in {repo}: {len(commits)} {walk} x {len(names)} benchmarks on machine "
            f"{here['id']} ({here['cpu']})" + ("" if answers else "; answers not checked (--no-answers)")
        )
        resumed, pending = {}, []
        for commit in commits:
            path = point_path(output, commit.sha, here["id"])
            if path.is_file():
                resumed[commit.sha] = results.HISTORY_POINT.load(path)
                if (other := _store_of(resumed[commit.sha])) != record:
                    raise UsageError(
                        f"{path} measured another store ({other['path']}): give another --output for this one"
                    )
                print(f"{commit.sha[:12]} already measured here: {path.name}")
                continue
            pending.append((commit, path))
        start = partial(
            start_point, repo=repo, store=store, collector=collector, processes=processes, rounds=rounds, seed=seed
        )
        started_points = {commit.sha: (path, *start(commit)) for commit, path in pending}
        serving = [loaded for _, _, loaded in started_points.values() if loaded is not None]
        checked = dict(zip((s.commit for s in serving), check_answers(serving) if answers else (), strict=False))
        previous = None
        with progress.task("history", len(started_points)) as step:
            for commit in commits:
                if commit.sha in resumed:
                    previous = resumed[commit.sha]
                    continue
                path, point, loaded = started_points[commit.sha]
                step(f"{commit.sha[:12]} {commit.subject[:60]}")
                if loaded is not None:
                    point["equivalence"] = checked.get(loaded.commit)
                    time_point(point, loaded, names, processes, rounds, seed)
                write_point(path, point)
                if point["equivalence"] is not None:
                    print(f"{commit.sha[:12]} answers: {answers_text(point, previous)}")
                if point["skipped"] is not None:
                    print(f"{commit.sha[:12]} skipped: {point['skipped']}")
                else:
                    for name, found in point["benchmarks"].items():
                        print(
                            f"{commit.sha[:12]} {name}: {found['estimate']:.4f} "
                            f"[{found['low']:.4f}, {found['high']:.4f}] of baseline"
                        )
                previous = point
        print(f"measured in {time.monotonic() - started:.0f} s")
    points = [
        p
        for p in load_points(output)
        if _store_of(p) == record and (p["skipped"] is not None or set(names) & set(p["benchmarks"]))
    ]
    if first_parent:
        line = first_parent_line(repo, rev_range)
        off = [p for p in points if p["commit"] not in line]
        points = [p for p in points if p["commit"] in line]
        if off:
            print(f"{len(off)} saved points lie off the first-parent line and are left out (--all-parents takes them)")
    points.sort(key=lambda p: (p.get("generation", 0), p["date"], p["machine"]["id"]))  # commit order
    found = with_answers([cp for cp in all_change_points(points, repo) if cp["benchmark"] in names], points)
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
    for path in publish(summary, markdown, json_path):
        print(f"summary written to {path}", file=sys.stderr)
    return ExitCode.OK


def _change_point_row(cp: dict[str, Any]) -> Row:
    step = cp["step"]
    return Row.of(
        cp["benchmark"],
        f"level after / before {cp['commit'][:12]}",
        RatioInterval(step["estimate"], step["low"], step["high"], step["confidence"], 0),
        "answers differ"
        if cp.get("answers_differ")
        else "slower from here"
        if step["estimate"] > 1
        else "faster from here",
        note=f"{cp['subject'][:60]}; ratio to baseline {cp['level_before']:.4f} -> {cp['level_after']:.4f}",
    )
