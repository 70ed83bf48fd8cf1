"""`python -m bench publish`: the history dashboard, a static site built from saved results (bench.report.site).

python -m bench publish                                  # results/site/ from results/history and the last bench run
python -m bench publish --commit-url 'https://github.com/OWNER/REPO/commit/{sha}'
metrics-store-bench publish --output public              # in the application: from .metrics-store-bench/
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, UsageError
from bench.model import git, progress, results
from bench.report import site

HELP: Final = (
    "Build the history dashboard, a static site, from the saved results alone (history points, the latest bench run), "
    "measuring nothing: an index with the latest table, the change points and answer changes newest first and a "
    "sparkline per benchmark; a page per benchmark with each commit's ratio and interval per machine; a scaling page. "
    "It works offline and from file:// (its scripts ship in the site); `preview` serves it."
)
DEFAULT_OUTPUT: Final = results.RESULTS / "site"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--results",
        type=Path,
        default=results.RESULTS,
        help=f"the saved results: history/ and the bench run (default: {results.shown(results.RESULTS)})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"the site's folder (default: {results.shown(DEFAULT_OUTPUT)})",
    )
    parser.add_argument(
        "--commit-url",
        metavar="TEMPLATE",
        help="link each commit to TEMPLATE with {sha} replaced, e.g. https://github.com/OWNER/REPO/commit/{sha}",
    )
    parser.add_argument(
        "--repo",
        type=Path,
        default=None,
        help="the repository whose first-parent line orders and filters the points (default: the one around the "
        "current folder, if any; points of commits it does not hold are kept)",
    )


def _repo(given: Path | None) -> Path | None:
    if given is not None:
        return git.repository(given)
    return git.toplevel(Path.cwd())


def run(args: argparse.Namespace) -> ExitCode:
    if not args.results.is_dir():
        command = results.COMMAND
        raise UsageError(f"no saved results at {args.results}: run `{command} history` or `{command} run`")
    started = time.monotonic()
    found = site.gather(args.results, _repo(args.repo))
    if not found.points and not found.latest:
        raise UsageError(f"nothing to publish under {args.results}: no history points and no bench run")
    with progress.task("publish", len(found.benchmarks)) as step:
        published = site.build(found, args.output, args.commit_url, step)
    print(
        f"published {published.pages} pages ({len(found.commits)} commits x {len(found.benchmarks)} benchmarks x "
        f"{len(found.machines)} machines, {sum(published.points.values())} points) to {published.folder} "
        f"({published.size / 1e6:.2f} MB) in {time.monotonic() - started:.1f} s"
    )
    for note in found.notes:
        print(f"note: {note}")
    print(f"open {published.folder / 'index.html'}, or serve it: {results.COMMAND} preview {published.folder}")
    return ExitCode.OK
