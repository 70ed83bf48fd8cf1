"""Per-commit history of the store's speed and answers: a point per commit, and the history command's work.

Each point times a commit's store beside the frozen baseline and beside the store of the commit before it on the
walk, interleaved in the same fresh processes (bench.runners.interleaved): the ratio to the baseline carries across
machines, and the ratio to the previous commit, paired within each process, is what the rule (bench.rule) judges a
step on, wherever it lands, the newest commit included. A point is one JSON file per commit and machine, with every
process's timings; a commit already measured on this machine is skipped, so a run resumes, and shards merge by
copying the files together. A commit whose store cannot serve is a point too, skipped with the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench.errors import RevisionError, StoreUnusable, UsageError
from bench.model import git, location, progress, results
from bench.model.answer_record import AnswerRecord
from bench.model.fixtures import FORMAT_VERSION
from bench.model.location import Location
from bench.model.operations import OPERATIONS, case_name, cases, find_case
from bench.model.stats import CONFIDENCE, RatioInterval
from bench.rule import shown
from bench.runners import equivalence
from bench.runners.interleaved import Timings
from bench.stores import loading, revision, snapshot
from bench.stores.candidates import BASELINE, check_control, source_sha256

HISTORY_DIR: Final = results.HISTORY_POINT.path
POINT_FORMAT: Final = results.HISTORY_POINT.format
DEFAULT_PROCESSES: Final = 4  # the quick settings: a history is many commits
DEFAULT_ROUNDS: Final = 6
DEFAULT_MAX_RERUNS: Final = 4  # further looks at a step still open whose estimate lies past the band (GATE.md)


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


def _interval_of(document: dict[str, Any], timings: Timings | None) -> RatioInterval:
    """A saved ratio; points saved before their intervals said so were 95% intervals on every process timed."""
    processes = document.get("processes", len(timings) if timings is not None else 0)
    return RatioInterval(
        document["estimate"], document["low"], document["high"], document.get("confidence", CONFIDENCE), processes
    )


def _answers_of(record: dict[str, Any], where: str) -> AnswerRecord:
    try:
        return AnswerRecord.from_json(record)
    except UsageError as e:
        raise UsageError(f"{where}: {e}") from e


@dataclass
class Point:
    """One commit measured on one machine: its ratios to the baseline, every process's timings, its answers, or why
    it was skipped. Filled in while the commit is measured, saved after each step, and loaded through its schema."""

    commit: str
    date: str
    subject: str
    machine: dict[str, Any]  # machine(): its id names the file, the rest describes it
    provenance: dict[str, Any]  # the baseline's sha256 and the fixtures' seed and version
    settings: dict[str, Any]  # processes, rounds, looks, max_reruns
    store: dict[str, str]  # store_record(): path, class, collector
    generation: int | None = None
    measured: str | None = None
    previous: str | None = None  # the commit it was timed beside (None: the first on its walk)
    benchmarks: dict[str, RatioInterval] = field(default_factory=dict)  # each benchmark's ratio to the baseline
    timings: dict[str, Timings] = field(default_factory=dict)
    equivalence: AnswerRecord | None = None
    skipped: str | None = None  # why the commit's store cannot serve
    sources: dict[str, str | None] | None = None  # the store's and collector's sha256 at the commit

    @property
    def machine_id(self) -> str:
        return str(self.machine["id"])

    @property
    def serves(self) -> bool:
        return self.skipped is None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"format": POINT_FORMAT, "commit": self.commit, "date": self.date}
        document["subject"] = self.subject
        if self.generation is not None:
            document["generation"] = self.generation
        document["machine"] = self.machine
        if self.measured is not None:
            document["measured"] = self.measured
        document.update(provenance=self.provenance, settings=self.settings, store=self.store, previous=self.previous)
        document["benchmarks"] = {name: _interval_json(interval) for name, interval in self.benchmarks.items()}
        document["timings"] = {name: timings.to_json() for name, timings in self.timings.items()}
        document["equivalence"] = None if self.equivalence is None else self.equivalence.to_json()
        document["skipped"] = self.skipped
        if self.sources is not None:
            document["sources"] = self.sources
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any], where: str) -> Point:
        """A point from its saved form (checked against its schema by the caller); bad timings name `where`."""
        record = document.get("equivalence")
        timings = {name: Timings.from_json(found, f"{where}: {name}") for name, found in document["timings"].items()}
        return cls(
            commit=document["commit"],
            date=document["date"],
            subject=document["subject"],
            machine=document["machine"],
            provenance=document["provenance"],
            settings=document["settings"],
            store=document["store"],
            generation=document.get("generation"),
            measured=document.get("measured"),
            previous=document.get("previous"),
            benchmarks={name: _interval_of(found, timings.get(name)) for name, found in document["benchmarks"].items()},
            timings=timings,
            equivalence=None if record is None else _answers_of(record, where),
            skipped=document["skipped"],
            sources=document.get("sources"),
        )


def record_timings(point: Point, timings: Timings) -> None:
    """A benchmark's timings into the point, pooled with what it holds, and its ratio to the baseline from them."""
    name = timings.benchmark
    pooled = point.timings[name] + timings if name in point.timings else timings
    point.timings[name] = pooled
    point.benchmarks[name] = shown(pooled.log_ratios("baseline"))


def write_point(path: Path, point: Point) -> None:
    """Atomic: an interrupt leaves no half-written point."""
    results.write_json_atomically(path, point.to_json())


def load_point(path: Path) -> Point:
    """One saved point; unreadable, of another format or schema, or with broken timings: a UsageError naming it."""
    return Point.from_json(results.HISTORY_POINT.load(path), str(path))


def load_points(folder: Path) -> list[Point]:
    """Every point saved under folder; one of another format or measured against another baseline is refused."""
    points = []
    for path in sorted(folder.glob("*.json")):
        if not POINT_FILE.fullmatch(path.name):
            continue  # not a point: e.g. a --json summary written beside them
        point = load_point(path)
        named = point_path(folder, point.commit, point.machine_id).name
        if named != path.name:  # a point copied under another name would be read as another commit's
            raise UsageError(f"{path} holds the point of {named}: a point's file name is its commit and machine")
        check_control(point.provenance["baseline_sha256"], str(path))
        points.append(point)
    return points


# --- measuring a commit


def store_record(store: Location, collector: Location) -> dict[str, str]:
    return {"path": store.path, "class": store.name, "collector": str(collector)}


def start_point(
    commit: Commit,
    *,
    repo: Path,
    store: Location,
    collector: Location | None,
    settings: dict[str, Any],
    seed: int,
) -> tuple[Point, snapshot.Snapshot | None]:
    """The commit's point before anything is measured, and its store loaded (None: skipped, the point says why)."""
    point = Point(
        commit=commit.sha,
        date=commit.date,
        subject=commit.subject,
        generation=generation(repo, commit.sha),
        machine=machine(),
        measured=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        provenance={
            "baseline_sha256": source_sha256(BASELINE),
            "fixture_seed": seed,
            "fixture_version": FORMAT_VERSION,
        },
        settings=settings,
        store=store_record(store, collector or location.sibling_collector(store)),
    )
    try:
        loaded = revision.at(repo, commit.sha, store, collector)
    except RevisionError as e:
        point.skipped = str(e)
        return point, None
    point.sources = {
        "store_sha256": loaded.source_sha256(loaded.store),
        "collector_sha256": loaded.source_sha256(loaded.collector),
    }
    try:
        loading.load(loaded, probed=True)  # fails fast, in this process, when the store cannot serve
    except StoreUnusable as e:
        point.skipped = str(e)
        return point, None
    return point, loaded


def check_answers(loaded: Sequence[snapshot.Snapshot]) -> list[AnswerRecord]:
    """Each store's quick equivalence pass, two at a time: a pytest process each, and nothing is timed meanwhile."""
    with progress.task("answers", len(loaded)) as step, ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(equivalence.check_snapshot, one) for one in loaded]
        records = []
        for one, future in zip(loaded, futures, strict=True):
            step(f"{one.commit[:12]} answers")
            records.append(future.result())
    return records


def names_of(only: Sequence[str] | None) -> list[str]:
    """The benchmarks named by --only, else the quick ones: a history is many commits."""
    if not only:
        return [case_name(op, size) for op, size in cases(quick=True)]
    return [case_name(*find_case(name)) for name in only]


def default_paths(store: Location, collector: Location) -> list[str]:
    """The store's folder and the collector's: a commit that changed neither changed nothing measured."""
    return list(dict.fromkeys(location.folder or location.path for location in (store, collector)))


def differs_in(point: Point, name: str) -> bool:
    """Whether the point's store answers otherwise than the original in the benchmark's method."""
    operation = name.partition("[")[0]
    # A benchmark this table no longer has (a point saved by another version) is its operation's own method.
    method = next((op.store_method for op in OPERATIONS if op.name == operation), operation)
    return point.equivalence is not None and method in point.equivalence.differs_in
