"""pyperf adapter over bench.model.operations: one candidate per invocation, one benchmark per case.

    python -m bench.runners.pyperf_storage --candidate optimized -o optimized.json
    python -m bench.runners.pyperf_storage --candidate baseline --case "get_recent_runs[1000]" --fast

Benchmark names are the cases' ("save_latency_stats[10000]"), the same in every candidate's file,
so `python -m pyperf compare_to baseline.json optimized.json --table` lines them up. Only the worker
that runs a case sets it up; the manager process just spawns workers and collects their runs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Final

import pyperf

from bench.errors import UsageError
from bench.model.operations import case_name, cases, find_case, prepare
from bench.model.options import add_fixture_options, add_quick_option, fixtures_from
from bench.stores.candidates import label, resolve, source_sha256

PROGRAM: Final = ("-m", "bench.runners.pyperf_storage")  # workers re-run this module, not a file path


def _add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candidate", default="optimized", help="registered name or package.module:Class")
    parser.add_argument(
        "--case",
        action="append",
        dest="cases",
        metavar="OPERATION[SIZE]",
        help="benchmark only this case, e.g. 'compare_runs[5000]' (repeatable; default: every case)",
    )
    add_quick_option(parser.add_argument)
    add_fixture_options(parser.add_argument)
    parser.add_argument(
        "--bench-run", help="label of one `python -m bench` run: statistics pair only processes of the same run"
    )


def _forward(cmd: list[str], args: argparse.Namespace) -> None:
    """Passes our options on to the worker processes pyperf spawns."""
    cmd += ["--candidate", args.candidate, "--seed", str(args.seed)]
    cmd += ["--fixture-cache", str(fixtures_from(args).cache)]
    for name in args.cases or ():
        cmd += ["--case", name]
    if args.quick:
        cmd.append("--quick")
    if args.bench_run:
        cmd += ["--bench-run", args.bench_run]


def _set_up_in_workers_only(loops: int) -> float:
    raise RuntimeError("pyperf called a benchmark this process did not set up")


def main() -> None:
    runner = pyperf.Runner(program_args=PROGRAM, add_cmdline_args=_forward)
    runner.argparser.prog = "python -m bench.runners.pyperf_storage"
    _add_options(runner.argparser)
    args = runner.parse_args()
    try:
        store_class = resolve(args.candidate)
        selected = [find_case(name) for name in args.cases] if args.cases else cases(args.quick)
    except UsageError as e:
        runner.argparser.error(str(e))
    fixtures = fixtures_from(args)
    runner.metadata.update(fixtures.provenance())
    runner.metadata["candidate"] = label(args.candidate)
    runner.metadata["candidate_sha256"] = source_sha256(args.candidate)
    runner.metadata["baseline_sha256"] = source_sha256("baseline")
    if args.bench_run:
        runner.metadata["bench_run"] = args.bench_run

    for index, (operation, size) in enumerate(selected):
        name = case_name(operation, size)
        # pyperf numbers the benchmarks of a script in call order; a worker runs the one numbered --worker-task.
        if not (args.worker and args.worker_task in (None, index)):
            runner.bench_time_func(name, _set_up_in_workers_only)
            continue
        with tempfile.TemporaryDirectory(prefix="metrics-bench-") as workdir:
            case = prepare(operation, size, store_class, Path(workdir), fixtures)
            metadata = {"operation": operation.name, "size": size, "peak_memory_bytes": case.peak_memory()}
            runner.bench_time_func(name, case.time, metadata=metadata)


if __name__ == "__main__":
    main()
