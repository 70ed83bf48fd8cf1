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

from bench.errors import ExitCode, RevisionError, StoreUnusable, UsageError
from bench.gate.config import load_config, rule_text
from bench.history.changes import (
    ChangePoint,
    answer_changes,
    answers_text,
    change_points,
    history_table,
    positions,
)
from bench.history.points import (
    Commit,
    check_answers,
    commits_in,
    default_paths,
    differs_in,
    first_parent_line,
    load_points,
    machine,
    names_of,
    point_path,
    record_timings,
    shard,
    start_point,
    store_of,
    store_record,
    timings_of,
    write_point,
)
from bench.model import git, location, progress, results
from bench.model.location import Location
from bench.model.publish import Row, Summary, publish
from bench.rule import MIN_PROCESSES, Band, Decision, Design, judge_sequential, shown
from bench.runners.interleaved import Arm, Arms, Engine
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot


@dataclass
class Pending:
    """A commit to measure here: its point, where it goes, its store, and the store of the commit before it."""

    commit: Commit
    path: Path
    point: dict[str, Any]
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
    markdown: Path | None,
    json_path: Path | None,
    first_parent: bool = True,
) -> ExitCode:
    """Measures what is not measured yet, then prints (and publishes) what the points say: those on the first-parent
    line (every saved one with first_parent False), in commit order."""
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
    points = [
        p
        for p in load_points(output)
        if store_of(p) == record and (p["skipped"] is not None or set(names) & set(p["benchmarks"]))
    ]
    if first_parent:
        line = first_parent_line(repo, rev_range)
        off = [p for p in points if p["commit"] not in line]
        points = [p for p in points if p["commit"] in line]
        if off:
            print(f"{len(off)} saved points lie off the first-parent line and are left out (--all-parents takes them)")
    points.sort(key=lambda p: (p.get("generation", 0), p["date"], p["machine"]["id"]))  # commit order
    return _report(points, names, store, record, repo, markdown, json_path)


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
        f"{here['id']} ({here['cpu']}), each beside the commit before it" + ("" if answers else "; answers not checked")
    )
    pending: list[Pending] = []
    for commit in commits:
        path = point_path(output, commit.sha, here["id"])
        if path.is_file():
            resumed = load_points_at(path)
            if (other := store_of(resumed)) != record:
                raise UsageError(f"{path} measured another store ({other['path']}): give another --output for this one")
            print(f"{commit.sha[:12]} already measured here: {path.name}")
            continue
        point, loaded = start_point(commit, repo=repo, store=store, collector=collector, settings=settings, seed=seed)
        pending.append(Pending(commit, path, point, loaded))
    serving = [p for p in pending if p.loaded is not None]
    if answers and serving:
        for one, found in zip(serving, check_answers([p.loaded for p in serving if p.loaded]), strict=True):
            one.point["equivalence"] = found
    _pair_with_previous(serving, walked, repo, store, collector)
    for one in pending:
        if one.loaded is None:
            write_point(one.path, one.point)
            print(f"{one.commit.sha[:12]} skipped: {one.point['skipped']}")
        elif one.point["equivalence"] is not None:
            print(f"{one.commit.sha[:12]} answers: {answers_text(one.point)}")
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
                if not one.point["timings"]:
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
    print(f"measured in {time.monotonic() - started:.0f} s")


def load_points_at(path: Path) -> dict[str, Any]:
    return results.HISTORY_POINT.load(path)


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
                one.point["previous"] = earlier.sha
                break


def _time(one: Pending, asked: Mapping[str, int], rounds: int, seed: int) -> dict[str, Any]:
    """More processes of the point's benchmarks, pooled into it and saved at once."""
    found = one.engine(rounds, seed).measure_each(asked)
    for timings in found.values():
        record_timings(one.point, timings)
    write_point(one.path, one.point)
    previous = one.point["previous"]
    for name in asked:
        r = one.point["benchmarks"][name]
        line = f"{one.commit.sha[:12]} {name}: {r['estimate']:.4f} [{r['low']:.4f}, {r['high']:.4f}] of baseline"
        if previous is not None:
            step = shown(timings_of(one.point, name).log_ratios("reference"))
            line += f"; {step.estimate:.4f} [{step.low:.4f}, {step.high:.4f}] of {previous[:12]}"
        print(line + f" ({len(timings_of(one.point, name))} processes)", flush=True)
    return found


def _report(
    points: list[dict[str, Any]],
    names: list[str],
    store: Location,
    record: dict[str, str],
    repo: Path,
    markdown: Path | None,
    json_path: Path | None,
) -> ExitCode:
    config = load_config()
    found = change_points(points, names, config)
    tested = positions(points, names, config)
    looks = tested[0].design.looks if tested else (MIN_PROCESSES,)
    rule = rule_text(config, names, looks, tests=len(tested), two_sided=True)
    changes = answer_changes(points, repo)
    text = [f"history of {store}: ratio to the frozen baseline [95% interval], oldest first:"]
    text += history_table(points, names, repo)
    text.append(f"change points ({len(found)}), each commit against the one before it in the same processes; {rule}:")
    text += [f"  {cp.benchmark}: at {cp.commit[:12]} {cp.subject[:60]}: step {cp.text()}" for cp in found]
    text.append(f"answer changes ({len(changes)}), against the frozen original:")
    text += [
        f"  at {change.commit[:12]} {change.subject[:60]}: {change.before} -> {change.after}" for change in changes
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
        details={
            "store": record,
            "points": points,
            "change_points": [cp.to_json() for cp in found],
            "answer_changes": [change.to_json() for change in changes],
        },
    )
    for path in publish(summary, markdown, json_path):
        print(f"summary written to {path}", file=sys.stderr)
    return ExitCode.OK


def _change_point_row(cp: ChangePoint) -> Row:
    before = f"{cp.level_before:.4f}" if cp.level_before is not None else "?"
    return Row.of(
        cp.benchmark,
        f"{cp.commit[:12]} / {cp.previous_commit[:12]}, same processes",
        cp.step,
        "answers differ" if cp.answers_differ else "slower from here" if cp.slower else "faster from here",
        note=f"{cp.subject[:60]}; ratio to baseline {before} -> {cp.level_after:.4f}",
    )
