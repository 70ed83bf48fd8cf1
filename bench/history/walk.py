"""`python -m bench history`'s work: measure the commits not yet measured on this machine, each beside the baseline and
the commit before it, look further only at steps still open whose estimate lies past the band, then say what the
points say."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import RevisionError, StoreUnusable, UsageError
from bench.gate.config import load_config, rule_text
from bench.history.changes import (
    AnswerChange,
    ChangePoint,
    answer_changes,
    answers_text,
    change_points,
    one_per_commit,
    positions,
)
from bench.history.points import (
    Commit,
    Point,
    check_answers,
    commits_in,
    default_paths,
    differs_in,
    first_parent_line,
    load_point,
    load_points,
    machine,
    names_of,
    point_path,
    record_timings,
    shard,
    start_point,
    store_record,
    write_point,
)
from bench.model import git, location, progress
from bench.model.location import Location
from bench.rule import MIN_PROCESSES, Band, Decision, Design, judge_sequential, shown
from bench.runners.interleaved import Arm, Arms, Engine
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot


@dataclass(frozen=True)
class HistoryResult:
    """What a history's points say, in commit order: what every renderer of history reads."""

    store: str
    record: dict[str, str]
    names: list[str]
    points: list[Point]  # every point, every machine
    change_points: list[ChangePoint]
    answer_changes: list[AnswerChange]
    one_per_commit: list[Point]
    rule: str

    @property
    def measured(self) -> list[Point]:
        return [p for p in self.one_per_commit if p.serves]

    @property
    def headline(self) -> str:
        cps, changes = len(self.change_points), len(self.answer_changes)
        skipped = len(self.one_per_commit) - len(self.measured)
        return (
            f"{cps} change point{'s' if cps != 1 else ''} and {changes} answer change{'s' if changes != 1 else ''} "
            f"in {len(self.measured)} measured commits x {len(self.names)} benchmarks ({skipped} skipped)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.record,
            "points": [point.to_json() for point in self.points],
            "change_points": [cp.to_json() for cp in self.change_points],
            "answer_changes": [change.to_json() for change in self.answer_changes],
        }


@dataclass
class Pending:
    """A commit to measure here: its point, where it goes, its store, and the store of the commit before it."""

    commit: Commit
    path: Path
    point: Point
    loaded: Snapshot | None
    previous: Snapshot | None = None

    def engine(self, rounds: int, seed: int) -> Engine:
        assert self.loaded is not None
        reference = Arm.of(self.previous) if self.previous is not None else None
        return Engine(Arms(Arm.of(self.loaded), reference=reference), seed, rounds)


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
    max_reruns: int,
    seed: int,
    first_parent: bool = True,
) -> HistoryResult:
    """Measures what is not measured yet (each measurement said on stderr, as progress is), then says what the
    points say: those on the first-parent line (every saved one with first_parent False), in commit order."""
    if processes < MIN_PROCESSES or rounds < 1 or max_reruns < 0:
        raise UsageError(f"need --processes >= {MIN_PROCESSES}, --rounds >= 1 and --max-reruns >= 0")
    repo = git.repository(repo_given)
    fed = collector or location.sibling_collector(store)
    record = store_record(store, fed)
    names = names_of(only)
    config = load_config()
    design = Design.every(processes, max_reruns, config.false_alarm_rate, two_sided=True)
    if not points_only:
        paths = default_paths(store, fed) if paths_given is None else paths_given
        walked = commits_in(repo, rev_range, last, paths, first_parent=first_parent)
        settings = {"processes": processes, "rounds": rounds, "looks": list(design.looks)}
        _measure(
            walked,
            shard_spec,
            repo,
            store,
            collector,
            record,
            output,
            names,
            settings,
            design,
            answers,
            seed,
            first_parent,
        )
    points = [p for p in load_points(output) if p.store == record and (not p.serves or set(names) & set(p.benchmarks))]
    if first_parent:
        line = first_parent_line(repo, rev_range)
        off = [p for p in points if p.commit not in line]
        points = [p for p in points if p.commit in line]
        if off:
            print(f"{len(off)} saved points lie off the first-parent line and are left out (--all-parents takes them)")
    points.sort(key=lambda p: (p.generation or 0, p.date, p.machine_id))  # commit order
    return result_of(points, names, str(store), record, repo)


def result_of(
    points: list[Point], names: list[str], store: str, record: dict[str, str], repo: Path | None
) -> HistoryResult:
    """What saved points say, in commit order: the steps the rule names in them and the answer changes."""
    config = load_config()
    tested = positions(points, names, config)
    looks = tested[0].design.looks if tested else (MIN_PROCESSES,)
    return HistoryResult(
        store=store,
        record=record,
        names=names,
        points=points,
        change_points=change_points(points, names, config),
        answer_changes=answer_changes(points, repo),
        one_per_commit=one_per_commit(points, repo),
        rule=rule_text(config, names, looks, tests=len(tested), two_sided=True),
    )


def _measure(
    walked: list[Commit],
    shard_spec: str | None,
    repo: Path,
    store: Location,
    collector: Location | None,
    record: dict[str, str],
    output: Path,
    names: list[str],
    settings: dict[str, Any],
    design: Design,
    answers: bool,
    seed: int,
    first_parent: bool,
) -> None:
    commits = shard(walked, shard_spec)
    here = machine()
    started = time.monotonic()
    walk = "first-parent commits" if first_parent else "commits, side branches included (--all-parents)"
    print(
        f"history of {store} in {repo}: {len(commits)} {walk} x {len(names)} benchmarks on machine "
        f"{here['id']} ({here['cpu']}), each beside the commit before it"
        + ("" if answers else "; answers not checked"),
        file=sys.stderr,
    )
    pending: list[Pending] = []
    for commit in commits:
        path = point_path(output, commit.sha, here["id"])
        if path.is_file():
            resumed = load_point(path)
            if (other := resumed.store) != record:
                raise UsageError(f"{path} measured another store ({other['path']}): give another --output for this one")
            print(f"{commit.sha[:12]} already measured here: {path.name}", file=sys.stderr)
            continue
        point, loaded = start_point(commit, repo=repo, store=store, collector=collector, settings=settings, seed=seed)
        pending.append(Pending(commit, path, point, loaded))
    serving = [p for p in pending if p.loaded is not None]
    if answers and serving:
        for one, found in zip(serving, check_answers([p.loaded for p in serving if p.loaded]), strict=True):
            one.point.equivalence = found
    _pair_with_previous(serving, walked, repo, store, collector)
    for one in pending:
        if one.loaded is None:
            write_point(one.path, one.point)
            print(f"{one.commit.sha[:12]} skipped: {one.point.skipped}", file=sys.stderr)
        elif one.point.equivalence is not None:
            print(f"{one.commit.sha[:12]} answers: {answers_text(one.point)}", file=sys.stderr)
    rounds = settings["rounds"]
    firsts = [p for p in serving if p.previous is None]
    stepped = {p.commit.sha: p for p in serving if p.previous is not None}
    with progress.task("history", len(serving)) as step:
        for one in firsts:  # no commit before it here: only its ratio to the baseline
            step(f"{one.commit.sha[:12]} {one.commit.subject[:60]}")
            _time(one, dict.fromkeys(names, design.looks[0]), rounds, seed)

        def more(wanted: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], list[float]]:
            by_commit: dict[str, dict[str, int]] = {}
            for (sha, name), count in wanted.items():
                by_commit.setdefault(sha, {})[name] = count
            found = {}
            for sha, asked in by_commit.items():
                one = stepped[sha]
                if not one.point.timings:
                    step(f"{sha[:12]} {one.commit.subject[:60]}")
                for name, timings in _time(one, asked, rounds, seed).items():
                    found[sha, name] = timings.log_ratios("reference")
            return found

        def pursue(key: tuple[str, str], decision: Decision) -> bool:
            # Only a step the estimate already shows is worth more processes; different answers decide alone.
            return decision.past_band and not differs_in(stepped[key[0]].point, key[1])

        config = load_config()
        bands = {(sha, name): Band(1.0, config.minimum_effect(name)) for sha in stepped for name in names}
        if bands:
            judge_sequential(bands, more, design, pursue=pursue)
    print(f"measured in {time.monotonic() - started:.0f} s", file=sys.stderr)


def _pair_with_previous(
    serving: list[Pending], walked: list[Commit], repo: Path, store: Location, collector: Location | None
) -> None:
    """Each serving commit's previous: the nearest commit before it on the walk whose store serves."""
    known: dict[str, Snapshot | None] = {p.commit.sha: p.loaded for p in serving}
    index = {commit.sha: i for i, commit in enumerate(walked)}

    def serves(sha: str) -> Snapshot | None:
        if sha not in known:
            try:
                loaded = revision.at(repo, sha, store, collector)
                loading.load(loaded, probed=True)
                known[sha] = loaded
            except (RevisionError, StoreUnusable):
                known[sha] = None
        return known[sha]

    for one in serving:
        for earlier in reversed(walked[: index[one.commit.sha]]):
            if (found := serves(earlier.sha)) is not None:
                one.previous = found
                one.point.previous = earlier.sha
                break


def _time(one: Pending, asked: Mapping[str, int], rounds: int, seed: int) -> dict[str, Any]:
    """More processes of the point's benchmarks, pooled into it and saved at once."""
    found = one.engine(rounds, seed).measure_each(asked)
    for timings in found.values():
        record_timings(one.point, timings)
    write_point(one.path, one.point)
    previous = one.point.previous
    for name in asked:
        r = one.point.benchmarks[name]
        line = f"{one.commit.sha[:12]} {name}: {r.estimate:.4f} [{r.low:.4f}, {r.high:.4f}] of baseline"
        if previous is not None:
            step = shown(one.point.timings[name].log_ratios("reference"))
            line += f"; {step.estimate:.4f} [{step.low:.4f}, {step.high:.4f}] of {previous[:12]}"
        print(line + f" ({len(one.point.timings[name])} processes)", file=sys.stderr, flush=True)
    return found
