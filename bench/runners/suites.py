"""The main job's runners: both suites over the chosen candidates, interleaved, into one staging folder.

Each case's pyperf worker processes are split into rounds, and every round runs each candidate in turn
(the order rotating), so a candidate's processes ran next to the baseline's and pair up for the
speedup's interval. pytest-benchmark runs its suite once, candidates innermost.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyperf

from bench.errors import SuiteFailed
from bench.model import progress
from bench.model.fixtures import Fixtures
from bench.model.operations import Operation, case_name
from bench.model.results import BENCHMARK_SUITE, REPO_ROOT
from bench.stores.candidates import label


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


class Clock:
    """Elapsed time since the run started, for progress lines."""

    def __init__(self) -> None:
        self._started = time.monotonic()

    def seconds(self) -> float:
        return time.monotonic() - self._started

    def __str__(self) -> str:
        seconds = int(self.seconds())
        return f"{seconds // 60:d}m{seconds % 60:02d}s"


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
    """Every case through runners.pyperf_storage, candidates alternating round by round; one JSON per candidate."""
    (staging / "pyperf").mkdir(parents=True)
    total = len(selected) * mode.rounds * len(specs)

    def one_case(operation: Operation, size: int, step: progress.Step) -> None:
        per_round = mode.processes // mode.rounds
        name = case_name(operation, size)
        loops: dict[str, int] = {}
        for round_index in range(mode.rounds):
            shift = round_index % len(specs)
            for spec in [*specs[shift:], *specs[:shift]]:
                step(f"{name} round {round_index + 1}/{mode.rounds} {label(spec)}")
                output = staging / "pyperf" / f"{label(spec)}.json"
                cmd = [sys.executable, "-m", "bench.runners.pyperf_storage", "--quiet", "--candidate", spec]
                cmd += ["--case", name, "--processes", str(per_round), "--values", str(mode.values)]
                cmd += ["--append", str(output), "--bench-run", bench_run]
                cmd += ["--seed", str(fixtures.seed), "--fixture-cache", str(fixtures.cache)]
                if spec in loops:
                    cmd += ["--loops", str(loops[spec])]
                # From the code's root: an application's own bench/ in the current folder never shadows the worker.
                done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT, check=False)
                result = done.stdout.strip().removeprefix(f"{name}: ").replace("\n", " / ")
                print(
                    f"[{clock}] pyperf {name} round {round_index + 1}/{mode.rounds} {label(spec)}: {result}", flush=True
                )
                if done.returncode != 0:
                    raise SuiteFailed(f"pyperf failed for {label(spec)} {name} (exit {done.returncode})")
                loops.setdefault(spec, _pyperf_loops(output, name))

    with progress.task("pyperf", total) as step:
        for operation, size in selected:
            one_case(operation, size, step)


def run_pytest_benchmark(
    specs: Sequence[str], quick: bool, mode: Mode, fixtures: Fixtures, staging: Path, bench_run: str, large: bool
) -> None:
    """The pytest-benchmark suite, saved in a storage folder of its own under staging."""
    cmd = [sys.executable, "-m", "pytest", str(BENCHMARK_SUITE), "-p", "no:cacheprovider", "--rootdir", str(REPO_ROOT)]
    cmd += ["--candidates", ",".join(specs), "--bench-run", bench_run]
    cmd += ["--seed", str(fixtures.seed), "--fixture-cache", str(fixtures.cache)]
    cmd += [f"--benchmark-storage={staging / 'pytest-benchmark'}", "--benchmark-autosave", *mode.pytest_options]
    if quick:
        cmd.append("--quick")
    if large:
        cmd += ["--sizes", "large"]
    done = subprocess.run(cmd, cwd=REPO_ROOT, check=False)
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
