"""pyperf adapter over bench.model.floors: one benchmark per floor and size, named "get_recent_runs[1000]/os.listdir".

    python -m bench floors                                           # results/floors.json, what `nox -s floors` runs
    python -m bench.runners.pyperf_floors --fast --floor "get_run_metrics_warm[5000]/os.stat" -o /tmp/f.json

Each case with a floor is also timed for the optimized store ("get_recent_runs[1000]/optimized", set up by
bench.model.operations), so the report divides two medians of one run, not of two runs hours apart.
Only the worker that runs a benchmark sets it up and checks it; the manager just spawns workers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pyperf

from bench.errors import ExitCode, SuiteFailed
from bench.model.fixtures import Fixtures
from bench.model.floors import REFERENCE, Floor, floor_cases, floor_name, reference_name
from bench.model.operations import find_case, prepare
from bench.model.options import add_fixture_options, fixtures_from
from bench.model.results import REPO_ROOT
from bench.stores.candidates import source_sha256
from storage import resolve

PROGRAM: Final = ("-m", "bench.runners.pyperf_floors")


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--floor", action="append", dest="floors", metavar="NAME", help="only this floor (repeatable; default: all)"
    )
    add_fixture_options(parser.add_argument)


def _forward(cmd: list[str], args: argparse.Namespace) -> None:
    """Passes our options on to the worker processes pyperf spawns."""
    cmd += ["--seed", str(args.seed), "--fixture-cache", str(fixtures_from(args).cache)]
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
    fixtures = fixtures_from(args)
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
    for index, (name, planned, size) in enumerate(plan):
        # pyperf numbers the benchmarks of a script in call order; a worker runs the one numbered --worker-task.
        if not (args.worker and args.worker_task in (None, index)):
            runner.bench_func(name, _set_up_in_workers_only)
            continue
        with tempfile.TemporaryDirectory(prefix="metrics-floor-") as workdir:
            if planned is not None:
                work = planned.build(fixtures, size, Path(workdir))
                metadata = {"operation": planned.operation, "size": size, "floor": planned.name}
                runner.bench_func(name, work, metadata=metadata)
            else:
                operation, _ = find_case(name.rpartition("/")[0])
                case = prepare(operation, size, resolve(REFERENCE), Path(workdir), fixtures)
                metadata = {"operation": operation.name, "size": size, "candidate": REFERENCE}
                runner.bench_time_func(name, case.time, metadata=metadata)


# --- the `floors` command: this module's pyperf runner, in a process of its own -----------------------


def measure_floors(*, output: Path, fixtures: Fixtures, fast: bool, floors: Sequence[str] | None) -> ExitCode:
    """pyperf's Runner owns its process's command line, so the floors run as a child, written whole or not at all."""
    staging = output.with_name(f".{output.name}.partial")
    staging.unlink(missing_ok=True)  # pyperf's -o refuses an existing file
    cmd = [sys.executable, *PROGRAM, "-o", str(staging), "--seed", str(fixtures.seed)]
    cmd += ["--fixture-cache", str(fixtures.cache), *(["--fast"] if fast else [])]
    for name in floors or ():
        cmd += ["--floor", name]
    done = subprocess.run(cmd, cwd=REPO_ROOT, check=False)  # from the code's root, as every worker
    if done.returncode != 0:
        staging.unlink(missing_ok=True)
        raise SuiteFailed(f"the floors run failed (pyperf exit {done.returncode}); {output} is unchanged")
    staging.replace(output)
    print(f"floors written to {output}")
    return ExitCode.OK


if __name__ == "__main__":
    main()
