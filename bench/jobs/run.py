"""The main job (`python -m bench`, `nox -s bench`): both suites over the chosen candidates, interleaved, then one
table and the report.

Results go to results/latest/ (git-ignored); --rebaseline writes the committed results/pyperf/ and
results/pytest-benchmark/ instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from datetime import datetime
from pathlib import Path

from bench.errors import ExitCode, StaleControl, UsageError
from bench.gate import instructions
from bench.model import git, snapshot
from bench.model.candidates import label, select
from bench.model.operations import build_fixtures, cases
from bench.model.options import (
    add_candidates_option,
    add_fixture_options,
    add_publish_options,
    add_quick_option,
    add_sizes_option,
    add_store_options,
    collector_location,
    fixtures_from,
    store_location,
)
from bench.model.publish import publish as publish_summary
from bench.model.results import INSTALLED, LATEST, RESULTS, require_checkout, shown
from bench.report import build, summary
from bench.runners.suites import FULL, QUICK, Clock, publish, run_pyperf, run_pytest_benchmark

HELP = "the main job: both suites, candidates interleaved, then one table and the report"


def _load_average() -> str:
    """The machine's load, printed at both ends of a run: timings taken beside other work are noisier."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_quick_option(parser.add_argument, "pyperf's fast settings and each operation's quick sizes (< 3 min)")
    add_candidates_option(parser.add_argument, "every registered store")
    parser.add_argument(
        "--deployed",
        action="store_true",
        help="also measure the optimized store as the application deploys it: copied unchanged as "
        "astraguard/hil/metrics/storage.py beside latency.py, fed that package's own collector class",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--rebaseline",
        action="store_true",
        help="write the committed runs under results/ (a full run of every registered store and the deployed layout)",
    )
    where.add_argument("--output", type=Path, default=LATEST, help="where results go (default: results/latest)")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions (callgrind) and system calls (strace) per call instead of timing "
        "(the instructions command; needs valgrind)",
    )
    add_sizes_option(parser.add_argument)
    add_fixture_options(parser.add_argument)
    add_publish_options(parser.add_argument)
    add_store_options(parser.add_argument)
    parser.epilog = (
        "--store adds the store at PATH[:Class] in --repo's work tree (e.g. the application's "
        "src/astraguard/hil/metrics/storage.py) to the candidates, fed its own latency.py's collector (or --collector)."
    )


def run(args: argparse.Namespace) -> ExitCode:
    if args.rebaseline:
        require_checkout("run --rebaseline")
    if args.store is None and (args.collector is not None or args.repo is not None):
        raise UsageError("--collector and --repo name where --store's store is: give --store")
    with contextlib.ExitStack() as stack:
        specs = select(args.candidates, deployed=args.deployed or args.rebaseline)
        if args.store is not None:
            if args.rebaseline:
                raise UsageError("--rebaseline records the registered stores: it takes no --store")
            working = snapshot.work_tree(git.repository(args.repo), store_location(args), collector_location(args))
            snapshot.load(working, probed=True)  # a store that cannot serve: exit 1, with the reason
            specs.append(stack.enter_context(snapshot.written(working)))  # a spec every worker process resolves
        return _run(args, specs)


def _run(args: argparse.Namespace, specs: list[str]) -> ExitCode:
    if args.instructions:
        return instructions.count_and_print(specs, instructions.selected_names(args.quick, None), args.seed)
    if args.rebaseline and (args.quick or args.candidates is not None or args.sizes != "standard"):
        raise UsageError(
            "--rebaseline records a full run of every registered store: drop --quick, --candidates and --sizes"
        )
    if args.quick and args.sizes == "large":
        raise UsageError("--quick measures the quick sizes only: it takes no --sizes large")
    output = (RESULTS if args.rebaseline else args.output).resolve()  # the workers run from the code's root
    mode = QUICK if args.quick else FULL
    large = args.sizes == "large"
    selected = cases(args.quick, large)
    fixtures = fixtures_from(args)
    bench_run = f"{datetime.now():%Y%m%dT%H%M%S}-{os.urandom(3).hex()}"
    staging = output / f".staging-{bench_run}"
    clock = Clock()
    print(f"bench run {bench_run}: {', '.join(map(label, specs))}; {len(selected)} cases; {_load_average()}")

    try:
        build_fixtures(fixtures, selected)
        print(f"[{clock}] fixtures ready (seed {fixtures.seed}, cache {fixtures.cache})", flush=True)
        run_pyperf(selected, specs, mode, fixtures, staging, bench_run, clock)
        print(f"[{clock}] pytest-benchmark suite", flush=True)
        run_pytest_benchmark(specs, args.quick, mode, fixtures, staging, bench_run, large)
    except BaseException:
        print(f"python -m bench: partial results kept in {staging}", file=sys.stderr)
        raise
    pyperf_files, pytest_file = publish(staging, output, specs)

    pyperf_results, pytest_results = summary.collect(pyperf_files, pytest_file)
    print(f"\n[{clock}] results in {output}/pyperf/ and {pytest_file}\n")
    rows = summary.build_rows(pyperf_results, pytest_results, [label(s) for s in specs])
    table = summary.render(rows)
    print(table)
    published = summary.bench_summary(rows, output, bench_run, table)
    published.seconds = clock.seconds()
    if INSTALLED:  # the report sets the run beside this repository's committed results, which a checkout holds
        print(f"\n[{clock}] no report: it needs a checkout of metrics-store-bench (the report command)")
    else:
        try:
            written = build.write_report(output)
        except StaleControl as e:  # the run itself is saved; a file the report also reads is not comparable
            raise StaleControl(f"the run is saved in {output}, but the report was not written: {e}") from e
        print(f"\n[{clock}] report written to {written} (the report command, from the files above)")
        published.link = shown(written)
    for path in publish_summary(published, args.markdown, args.json):
        print(f"[{clock}] summary written to {path}")
    print(f"\nfinished in {clock}; {_load_average()}")
    return ExitCode.OK
