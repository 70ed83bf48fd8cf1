"""`python -m bench`: both suites over the chosen candidates, then one table. `nox -s bench` runs this.

Results go to results/latest/ (git-ignored); --rebaseline writes the committed results/pyperf/ and
results/pytest-benchmark/ instead. Candidates are interleaved: each case's pyperf worker processes
are split into rounds, and every round runs each candidate in turn (the order rotating), so a
candidate's processes ran next to the baseline's and pair up for the speedup's interval.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import pyperf

from bench import report, summary
from bench.candidates import StaleControl, label, select
from bench.fixtures import DEFAULT_SEED, Fixtures, default_cache_dir
from bench.operations import Operation, build_fixtures, case_name, cases

LATEST: Final = Path("results/latest")
COMMITTED: Final = Path("results")


@dataclass(frozen=True)
class Mode:
    """How much each suite measures: pyperf processes and values per (case, candidate), pytest-benchmark budget."""

    processes: int
    values: int
    rounds: int  # the processes are split into this many interleaved rounds
    pytest_options: tuple[str, ...]


FULL: Final = Mode(processes=20, values=3, rounds=5, pytest_options=())  # pyperf's and pytest-benchmark's defaults
# pyperf's --fast (half the processes, 2 values each); pytest-benchmark a fifth of its default time per benchmark.
QUICK: Final = Mode(processes=10, values=2, rounds=2, pytest_options=("--benchmark-max-time=0.2",))


class SuiteFailed(Exception):
    """A suite's process failed: a check of an answer, a crash. Its own output says which."""


class Clock:
    """Elapsed time since the run started, for progress lines."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    def __str__(self) -> str:
        seconds = int(time.monotonic() - self._started)
        return f"{seconds // 60:d}m{seconds % 60:02d}s"


def _load_average() -> str:
    """The machine's load, printed at both ends of a run: timings taken beside other work are noisier."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark the metrics stores with pyperf and pytest-benchmark, interleaved, and print "
        "one table: per operation, size and candidate, the median time, the speedup over the baseline with "
        "its 95% interval, and peak memory.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="pyperf's fast settings and each operation's quick sizes (< 3 min)"
    )
    parser.add_argument(
        "--candidates",
        help="comma-separated registered names or package.module:Class (default: every registered store); "
        "the baseline is always measured",
    )
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
        help=f"write the committed runs under {COMMITTED}/ (a full run of every registered store and the "
        "deployed layout)",
    )
    where.add_argument("--output", type=Path, default=LATEST, help=f"where results go (default: {LATEST})")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions (callgrind) and system calls (strace) per call instead of timing: "
        "python -m bench.instructions, needs valgrind",
    )
    parser.add_argument("--fixture-seed", type=int, default=DEFAULT_SEED, help="seed of every fixture")
    parser.add_argument("--fixture-cache", type=Path, default=default_cache_dir(), help="where built fixtures are kept")
    return parser


def _pyperf_loops(path: Path, name: str) -> int:
    """The loop count pyperf calibrated in the first round: later rounds reuse it instead of calibrating again."""
    bench = pyperf.BenchmarkSuite.load(str(path)).get_benchmark(name)
    return max(run.get_metadata()["loops"] for run in bench.get_runs())


def run_pyperf(
    selected: Sequence[tuple[Operation, int]],
    specs: Sequence[str],
    mode: Mode,
    fixtures: Fixtures,
    staging: Path,
    bench_run: str,
    clock: Clock,
) -> None:
    """Every case through bench.pyperf_storage, candidates alternating round by round; one JSON per candidate."""
    per_round = mode.processes // mode.rounds
    (staging / "pyperf").mkdir(parents=True)
    total = len(selected) * mode.rounds * len(specs)
    step = 0
    for operation, size in selected:
        name = case_name(operation, size)
        loops: dict[str, int] = {}
        for round_index in range(mode.rounds):
            shift = round_index % len(specs)
            for spec in [*specs[shift:], *specs[:shift]]:
                output = staging / "pyperf" / f"{label(spec)}.json"
                cmd = [sys.executable, "-m", "bench.pyperf_storage", "--quiet", "--candidate", spec]
                cmd += ["--case", name, "--processes", str(per_round), "--values", str(mode.values)]
                cmd += ["--append", str(output), "--bench-run", bench_run]
                cmd += ["--fixture-seed", str(fixtures.seed), "--fixture-cache", str(fixtures.cache)]
                if spec in loops:
                    cmd += ["--loops", str(loops[spec])]
                done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
                step += 1
                result = done.stdout.strip().removeprefix(f"{name}: ").replace("\n", " / ")
                print(
                    f"[{clock}] pyperf {step}/{total} {name} round {round_index + 1}/{mode.rounds} "
                    f"{label(spec)}: {result}",
                    flush=True,
                )
                if done.returncode != 0:
                    raise SuiteFailed(f"pyperf failed for {label(spec)} {name} (exit {done.returncode})")
                loops.setdefault(spec, _pyperf_loops(output, name))


def run_pytest_benchmark(
    specs: Sequence[str], quick: bool, mode: Mode, fixtures: Fixtures, staging: Path, bench_run: str
) -> None:
    """The pytest-benchmark suite, saved in a storage folder of its own under staging."""
    cmd = [sys.executable, "-m", "pytest", "bench/test_storage.py", "-p", "no:cacheprovider"]
    cmd += ["--candidates", ",".join(specs), "--bench-run", bench_run]
    cmd += ["--fixture-seed", str(fixtures.seed), "--fixture-cache", str(fixtures.cache)]
    cmd += [f"--benchmark-storage={staging / 'pytest-benchmark'}", "--benchmark-autosave", *mode.pytest_options]
    if quick:
        cmd.append("--quick")
    done = subprocess.run(cmd, check=False)
    if done.returncode != 0:
        raise SuiteFailed(f"the pytest-benchmark suite failed (exit {done.returncode})")


def publish(staging: Path, output: Path, specs: Sequence[str]) -> tuple[dict[str, Path], Path]:
    """Moves a finished run into place; a pytest-benchmark run becomes the next number of its storage."""
    pyperf_files = {}
    (output / "pyperf").mkdir(parents=True, exist_ok=True)
    for spec in specs:
        target = output / "pyperf" / f"{label(spec)}.json"
        os.replace(staging / "pyperf" / target.name, target)
        pyperf_files[label(spec)] = target
    (saved,) = (staging / "pytest-benchmark").glob("*/[0-9][0-9][0-9][0-9]_*.json")
    machine_dir = output / "pytest-benchmark" / saved.parent.name
    machine_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(path.name[:4]) for path in machine_dir.glob("[0-9][0-9][0-9][0-9]_*.json")]
    pytest_file = machine_dir / f"{max(numbers, default=0) + 1:04d}{saved.name[4:]}"
    os.replace(saved, pytest_file)
    shutil.rmtree(staging)
    return pyperf_files, pytest_file


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        specs = select(args.candidates, deployed=args.deployed or args.rebaseline)
    except LookupError as e:
        parser.error(str(e))
    if args.instructions:
        from bench import instructions

        counted = ["--candidates", ",".join(specs), "--seed", str(args.fixture_seed)]
        return instructions.main([*counted, *(["--quick"] if args.quick else [])])
    if args.rebaseline and (args.quick or args.candidates is not None):
        parser.error("--rebaseline records a full run of every registered store: drop --quick and --candidates")
    if not Path("bench/test_storage.py").is_file():
        parser.error(f"run from the repository root (no bench/test_storage.py in {Path.cwd()})")
    output = COMMITTED if args.rebaseline else args.output
    mode = QUICK if args.quick else FULL
    selected = cases(args.quick)
    fixtures = Fixtures(args.fixture_seed, args.fixture_cache)
    bench_run = f"{datetime.now():%Y%m%dT%H%M%S}-{os.urandom(3).hex()}"
    staging = output / f".staging-{bench_run}"
    clock = Clock()
    print(f"bench run {bench_run}: {', '.join(map(label, specs))}; {len(selected)} cases; {_load_average()}")

    try:
        build_fixtures(fixtures, selected)
        print(f"[{clock}] fixtures ready (seed {fixtures.seed}, cache {fixtures.cache})", flush=True)
        run_pyperf(selected, specs, mode, fixtures, staging, bench_run, clock)
        print(f"[{clock}] pytest-benchmark suite", flush=True)
        run_pytest_benchmark(specs, args.quick, mode, fixtures, staging, bench_run)
    except SuiteFailed as e:
        print(f"python -m bench: {e}; partial results kept in {staging}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"python -m bench: interrupted; partial results kept in {staging}", file=sys.stderr)
        return 130
    pyperf_files, pytest_file = publish(staging, output, specs)

    pyperf_results, pytest_results = summary.collect(pyperf_files, pytest_file)
    print(f"\n[{clock}] results in {output}/pyperf/ and {pytest_file}\n")
    print(summary.render(summary.build_rows(pyperf_results, pytest_results, [label(s) for s in specs])))
    try:
        written = report.write_report(output)
    except StaleControl as e:  # the run itself is saved; a file the report also reads is not comparable
        print(f"\n[{clock}] report not written: {e}", file=sys.stderr)
        return 2
    print(f"\n[{clock}] report written to {written} (bench.report, from the files above)")
    print(f"\nfinished in {clock}; {_load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
