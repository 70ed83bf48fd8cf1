"""pyperf adapter over bench.floors: one benchmark per floor and size, named "get_recent_runs[1000]/os.listdir".

    python -m bench.pyperf_floors -o results/floors.json      # what `nox -s floors` runs
    python -m bench.pyperf_floors --fast --floor "get_run_metrics_warm[5000]/os.stat"

Each case with a floor is also timed for the optimized store ("get_recent_runs[1000]/optimized", set up by
bench.operations), so the report divides two medians of one run, not of two runs hours apart.
Only the worker that runs a benchmark sets it up and checks it; the manager just spawns workers.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Final

import pyperf

from bench.candidates import source_sha256
from bench.fixtures import DEFAULT_SEED, Fixtures, default_cache_dir
from bench.floors import REFERENCE, Floor, floor_cases, floor_name, reference_name
from bench.operations import find_case, prepare
from storage import resolve

PROGRAM: Final = ("-m", "bench.pyperf_floors")


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--floor", action="append", dest="floors", metavar="NAME", help="only this floor (repeatable; default: all)"
    )
    parser.add_argument("--fixture-seed", type=int, default=DEFAULT_SEED, help="seed of every fixture")
    parser.add_argument("--fixture-cache", type=Path, default=default_cache_dir(), help="where built fixtures are kept")


def _forward(cmd: list[str], args: argparse.Namespace) -> None:
    """Passes our options on to the worker processes pyperf spawns."""
    cmd += ["--fixture-seed", str(args.fixture_seed), "--fixture-cache", str(args.fixture_cache)]
    for name in args.floors or ():
        cmd += ["--floor", name]


def _set_up_in_workers_only() -> None:
    raise RuntimeError("pyperf called a floor this process did not set up")


def main() -> None:
    runner = pyperf.Runner(program_args=PROGRAM, add_cmdline_args=_forward)
    _add_options(runner.argparser)
    args = runner.parse_args()
    selected = floor_cases()
    if args.floors:
        known = {floor_name(floor, size) for floor, size in selected}
        unknown = sorted(set(args.floors) - known)
        if unknown:
            runner.argparser.error(f"no floor {', '.join(unknown)}: one of {', '.join(sorted(known))}")
        selected = [(floor, size) for floor, size in selected if floor_name(floor, size) in args.floors]
    fixtures = Fixtures(args.fixture_seed, args.fixture_cache)
    runner.metadata.update(fixtures.provenance())
    runner.metadata["baseline_sha256"] = source_sha256("baseline")
    runner.metadata["optimized_sha256"] = source_sha256("optimized")

    # Each case's floors, then the optimized store on the same case: the two medians divided are minutes apart.
    plan: list[tuple[str, Floor | None, int]] = []
    for position, (floor, size) in enumerate(selected):
        plan.append((floor_name(floor, size), floor, size))
        following = selected[position + 1 : position + 2]
        if not following or reference_name(*following[0]) != reference_name(floor, size):  # floor_cases() groups
            plan.append((reference_name(floor, size), None, size))
    for index, (name, floor, size) in enumerate(plan):
        # pyperf numbers the benchmarks of a script in call order; a worker runs the one numbered --worker-task.
        if not (args.worker and args.worker_task in (None, index)):
            runner.bench_func(name, _set_up_in_workers_only)
            continue
        with tempfile.TemporaryDirectory(prefix="metrics-floor-") as workdir:
            if floor is not None:
                work = floor.build(fixtures, size, Path(workdir))
                metadata = {"operation": floor.operation, "size": size, "floor": floor.name}
                runner.bench_func(name, work, metadata=metadata)
            else:
                operation, _ = find_case(name.rpartition("/")[0])
                case = prepare(operation, size, resolve(REFERENCE), Path(workdir), fixtures)
                metadata = {"operation": operation.name, "size": size, "candidate": REFERENCE}
                runner.bench_time_func(name, case.time, metadata=metadata)


if __name__ == "__main__":
    main()
