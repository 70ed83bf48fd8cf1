"""What the dashboard shows, read from the saved files alone: the history points in first-parent order, and the
latest bench run's table."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import UsageError
from bench.history.changes import AnswerChange, ChangePoint, Series, answer_changes, series_of
from bench.history.points import Point, first_parent_line, load_points
from bench.model import git, results
from bench.model.results import shown
from bench.report.summary import Row, rows_for


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    date: str


@dataclass
class Site:
    """Everything the pages show: commits in first-parent order, the points by benchmark, and the latest run."""

    commits: list[Commit]
    position: dict[str, int]  # sha -> index in commits
    points: list[Point]
    benchmarks: list[str]
    machines: list[str]
    change_points: list[ChangePoint]  # filled by `build`, as history names them
    series: dict[str, Series]  # each benchmark's machines' median per commit, as `history` sees it
    answer_changes: list[AnswerChange]
    latest: list[Row]
    sources: dict[str, str]  # what was read: kind -> folder, for the index's footer
    notes: list[str] = field(default_factory=list)


def _known_to(repo: Path | None) -> tuple[set[str], set[str]]:
    """(every commit the repository holds, the first-parent line of HEAD); both empty outside a repository."""
    if repo is None:
        return set(), set()
    try:
        return set(git.output(repo, "rev-list", "--all").split()), first_parent_line(repo, None)
    except UsageError:
        return set(), set()


def _first_parent(points: list[Point], repo: Path | None, notes: list[str]) -> list[Point]:
    """The points on HEAD's first-parent line (as `history` shows them); commits the repository does not hold (a
    history merged from elsewhere) are kept in their saved order."""
    every, line = _known_to(repo)
    off = [p for p in points if p.commit in every and p.commit not in line]
    if off:
        notes.append(f"{len(off)} saved points lie off HEAD's first-parent line and are left out")
    return [p for p in points if p not in off] if off else points


def gather(results_dir: Path, repo: Path | None) -> Site:
    """Reads the history points under results_dir/history and the latest bench run saved in results_dir; the change
    points are found as the pages are written (`build`)."""
    notes: list[str] = []
    history_dir = results_dir / results.HISTORY_POINT.path.name
    points = load_points(history_dir) if history_dir.is_dir() else []
    points = _first_parent(points, repo, notes)
    points.sort(key=lambda p: ((p.generation or 0), p.date, p.machine_id))
    commits: list[Commit] = []
    position: dict[str, int] = {}
    for point in points:
        if point.commit not in position:
            position[point.commit] = len(commits)
            commits.append(Commit(point.commit, point.subject, point.date))
    names = sorted({name for p in points for name in p.benchmarks}, key=_benchmark_order)
    machines = sorted({p.machine_id for p in points})
    try:
        latest = rows_for(results_dir)
    except UsageError as e:
        latest = []
        notes.append(f"no bench run to show: {e}")
    return Site(
        commits=commits,
        position=position,
        points=points,
        benchmarks=names,
        machines=machines,
        change_points=[],
        series={name: series_of(points, name, None) for name in names},
        answer_changes=answer_changes(points, None),
        latest=latest,
        sources={"history points": shown(history_dir), "bench run": shown(results_dir)},
        notes=notes,
    )


def _benchmark_order(name: str) -> tuple[str, float, str]:
    """By operation, then by size as a number: compare_runs[1000] before compare_runs[10000]."""
    operation, _, rest = name.partition("[")
    size = rest.rstrip("]")
    return operation, float(size) if size.replace(".", "", 1).isdigit() else math.inf, name
