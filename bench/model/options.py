"""The options several commands share, defined once with one name each.

`add` is argparse's `parser.add_argument` or pytest's `group.addoption`: the CLI, the pyperf workers
and the pytest-benchmark suite all take the same spelling of the same option.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.model.fixtures import DEFAULT_SEED, Fixtures, default_cache_dir
from bench.model.location import COLLECTOR_CLASS, COLLECTOR_FILE, DEFAULT_CLASS, DEFAULT_STORE, Location

Add = Callable[..., Any]


def add_fixture_options(add: Add) -> None:
    """--seed and --fixture-cache: the two values every fixture is built from (bench.model.fixtures)."""
    add_seed_option(add)
    add_fixture_cache_option(add)


def add_seed_option(add: Add) -> None:
    """--seed alone, for commands whose worker processes build fixtures in the default cache."""
    add("--seed", type=int, default=DEFAULT_SEED, help="seed of every fixture (default: %(default)s)")


def add_fixture_cache_option(add: Add) -> None:
    add(
        "--fixture-cache",
        type=Path,
        default=None,
        help="where built fixtures are kept (default: $METRICS_STORE_BENCH_CACHE, else ~/.cache/metrics-store-bench)",
    )


def fixtures_from(args: argparse.Namespace | Any) -> Fixtures:
    """The Fixtures named by --seed and --fixture-cache (an argparse namespace or a pytest config's options)."""
    return Fixtures(args.seed, (getattr(args, "fixture_cache", None) or default_cache_dir()).resolve())


def add_quick_option(add: Add, what: str = "each operation's quick sizes only") -> None:
    add("--quick", action="store_true", help=what)


def add_only_option(add: Add) -> None:
    add("--only", action="append", metavar="NAME", help='only the benchmark "operation[size]"; repeatable')


def add_candidates_option(add: Add, default: str) -> None:
    add(
        "--candidates",
        default=None,
        help=f"comma-separated registered names, 'deployed' or package.module:Class (default: {default}); "
        "the baseline is always measured, every ratio needs it",
    )


def add_publish_options(add: Add) -> None:
    """--markdown and --json: the command's summary for people and for machines (bench.report.publish)."""
    add(
        "--markdown",
        type=Path,
        metavar="PATH",
        help="write the summary as Markdown here, for a pull-request comment (also appended to "
        "$GITHUB_STEP_SUMMARY whenever that is set)",
    )
    add(
        "--json",
        type=Path,
        metavar="PATH",
        help="write the summary as JSON here (schemas/summary.v1.schema.json)",
    )


SIZES: tuple[str, ...] = ("standard", "large")


def add_sizes_option(add: Add) -> None:
    add(
        "--sizes",
        choices=SIZES,
        default="standard",
        help="large adds 100,000 measurements and a tree of 100,000 run folders (built once and cached, "
        "minutes the first time); default: %(default)s",
    )


def add_store_options(add: Add) -> None:
    """--store, --collector and --repo: which store to load from a repository's revisions (bench.stores.snapshot)."""
    add(
        "--store",
        metavar="PATH[:Class]",
        help=f"the store's module, from the repository's root, and its class (default: {DEFAULT_STORE}:"
        f"{DEFAULT_CLASS}); absolute imports of its own package load from the same revision, and its package's "
        "__init__.py never runs",
    )
    add(
        "--collector",
        metavar="PATH[:Class]",
        help=f"the collector's module and class (default: {COLLECTOR_FILE}:{COLLECTOR_CLASS} beside the store, at "
        "the same revision)",
    )
    add("--repo", type=Path, default=None, help="the git repository (default: the one holding the current folder)")


def store_location(args: argparse.Namespace) -> Location:
    return Location.parse(args.store or DEFAULT_STORE, DEFAULT_CLASS)


def collector_location(args: argparse.Namespace) -> Location | None:
    """--collector, or None: the latency.py beside the store."""
    return None if args.collector is None else Location.parse(args.collector, COLLECTOR_CLASS, "--collector")


def add_timing_options(add: Add, processes: int, rounds: int) -> None:
    """--processes, --rounds and --seed: the gate's timing, with the defaults of the command that times."""
    add("--processes", type=int, default=processes, help="worker processes per benchmark (default: %(default)s)")
    add("--rounds", type=int, default=rounds, help="interleaved timing rounds per process (default: %(default)s)")
    add_seed_option(add)


def add_reruns_option(add: Add, default: int) -> None:
    add(
        "--max-reruns",
        type=int,
        default=default,
        help="further looks of the rule (bench.rule), each adding --processes processes to what is still undecided "
        "(default: %(default)s)",
    )


def add_walk_option(add: Add) -> None:
    """--all-parents: history and find walk side branches too, instead of main's first-parent line."""
    add(
        "--all-parents",
        dest="first_parent",
        action="store_false",
        help="walk every commit, side branches included, in commit order (default: the first-parent line, main as "
        "it was after each merge, as asv and `git bisect --first-parent` do)",
    )
