"""Instructions (callgrind) and system calls (strace) per call: a deterministic companion to wall time.

On a shared 2-core machine wall-clock ratios wobble by several percent; callgrind's instruction
count for the same interpreter, inputs and environment repeats to a few thousandths of a percent.
A file store spends real time in the kernel, which callgrind cannot see, so the system calls per
call are counted beside it (strace -f -c). Neither replaces the wall-clock gate.

Per-call counts are the difference of two runs with identical set-up: one makes N calls (each
after the operation's untimed refresh, if it has one), the other performs the same N refreshes
and no call. Interpreter start-up, imports, fixture set-up and refreshes cancel out.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import storage
from bench.errors import ToolMissing
from bench.model import progress
from bench.model.fixtures import Fixtures
from bench.model.operations import build_fixtures, case_name, cases, find_case, prepare
from bench.model.results import REPO_ROOT
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot

DEFAULT_CALLS: Final = 3
WARM_UP_CALLS: Final = 2  # untimed, in both runs of a count
HASH_SEED: Final = "0"
# Calibration varies the environment's size and the temporary folder's name length by this many
# characters, to show a count does not hang on either (the stack and path strings move with them).
PADDING_ENV: Final = "BENCH_COUNT_PADDING"
# Calls per counted run when both sides are counted (--against). A process's own count moves by some
# 20,000 instructions from one run to the next (glibc's malloc, scans of the environment), which the
# differencing cannot cancel: 3 calls of compare_runs (67,000 instructions each) counted 15-26% apart.
# Enough calls for about 100 million counted instructions put that near 0.02%.
AGAINST_CALLS: Final = {
    "get_run_metrics_cold": 300,
    "get_run_metrics_warm": 600,
    "compare_runs": 1500,
    "get_recent_runs": 30,
}
# A count's calls are cut to what natively lasts about this long: some 100 million instructions.
COUNTED_SECONDS: Final = 0.04
# The counted process's clock runs this far ahead of the kernel's file times; see _clock_ahead().
CLOCK_AHEAD_NS: Final = 3600 * 10**9
_TOTALS: Final = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


@dataclass(frozen=True)
class Count:
    """Per call of one operation at one size for one store."""

    instructions: float
    syscalls: float | None  # None when strace is not installed
    by_syscall: Mapping[str, float] | None = None  # per system call name, where the two runs differ


# --- the measured process ---------------------------------------------------------------------------


def run_worker(name: str, candidate: str, calls: int, with_calls: bool, seed: int, at: Snapshot | None = None) -> None:
    """Set up the case, then `calls` iterations of (refresh; call) or of refresh alone.

    With `at`, the snapshot's store is counted (`candidate` names it), its collector registered for it.
    """
    operation, size = find_case(name)
    store_class = loading.load(at)[0] if at is not None else storage.resolve(candidate)
    _clock_ahead(CLOCK_AHEAD_NS)
    prefix = "bench-count-" + "p" * (len(os.environ.get(PADDING_ENV, "")) % 64)
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        case = prepare(operation, size, store_class, Path(scratch), Fixtures(seed=seed))
        refresh, call = case.subject.refresh, case.subject.call
        with case.entered():
            # Untimed calls first, in both runs: the count is of calls in a steady state, after a cache's
            # first-hit work and after the allocator has grown its arenas for one call's objects. Without
            # them, how much the first calls cost hung on the heap the imports left (up to 28% on the
            # warm read between two loadings of the same source).
            for _ in range(WARM_UP_CALLS):
                if refresh is not None:
                    refresh()
                call()
        # Every call starts from the same collector state: set-up objects frozen out of the collector's
        # reach, generation counts zeroed. Otherwise whether a collection falls inside a call hangs on
        # how much was allocated before it (imports, environment size), and moved counts by up to 10%.
        gc.collect()
        gc.freeze()
        with case.entered():
            for _ in range(calls):
                if refresh is not None:
                    refresh()
                gc.collect()
                if with_calls:
                    call()


def _clock_ahead(nanoseconds: int) -> None:
    """Every file is old to the counted process: a store's trust in its cache can't hang on valgrind's speed.

    The optimized store caches a summary only once its inode changed more than a racy window (50 ms)
    before the read. Under valgrind a read comes some 50 times later after the refresh that swapped its
    file in, so whether it fell inside the window would hang on the machine's load. With the clock an
    hour ahead every file is old in every run. So the counted cold read caches what it reads, where the
    timed one, inside the window, does not: the counts follow one path, always the same one.
    """
    real_ns = time.time_ns
    time.time_ns = lambda: real_ns() + nanoseconds
    time.time = lambda: time.time_ns() / 1e9


# --- counting from outside --------------------------------------------------------------------------


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(f"{tool} is not installed: `apt-get install {tool}` (a Debian package)")
    return path


def _worker_command(
    name: str, candidate: str, calls: int, with_calls: bool, seed: int, snapshot_file: Path | None
) -> list[str]:
    mode = "calls" if with_calls else "refresh-only"
    command = [sys.executable, "-m", "bench.runners.instructions"]
    command += ["--worker", name, candidate, str(calls), mode, str(seed)]
    if snapshot_file is not None:
        # The revision's sources from a file, read identically by both runs: no git under valgrind.
        command += ["--worker-snapshot", str(snapshot_file)]
    return command


def _environment(padding: int = 0) -> dict[str, str]:
    # A fixed hash seed: str hashing decides dict and set layouts, and so the instruction count.
    environment = {**os.environ, "PYTHONHASHSEED": HASH_SEED, "PYTHONDONTWRITEBYTECODE": "1"}
    if padding:
        environment[PADDING_ENV] = "x" * padding
    return environment


def _prime(command: list[str]) -> None:
    """The worker run once natively, writing the bytecode of whatever it imports (a fresh checkout, or packages
    installed with pip --no-compile, have none yet)."""
    environment = {key: value for key, value in _environment().items() if key != "PYTHONDONTWRITEBYTECODE"}
    run = subprocess.run(command, env=environment, cwd=REPO_ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(
            f"the counted worker failed natively ({run.returncode}): {' '.join(command)}\n{run.stderr[-2000:]}"
        )


def _callgrind_total(command: list[str], padding: int = 0) -> int:
    valgrind = require("valgrind")
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        out = Path(scratch, "callgrind.out")
        run = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *command],
            env=_environment(padding),
            cwd=REPO_ROOT,  # `-m bench...` from the code's root: an application's own bench/ never shadows it
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise RuntimeError(f"callgrind run failed ({run.returncode}): {' '.join(command)}\n{run.stderr[-2000:]}")
        match = _TOTALS.search(out.read_text())
    if match is None:
        raise RuntimeError(f"no totals line in callgrind's output for {' '.join(command)}")
    return int(match.group(1))


def _strace_calls(command: list[str], padding: int = 0) -> dict[str, int] | None:
    """Calls per system call name over the whole run (strace -f -c), None when strace is not installed."""
    strace = shutil.which("strace")
    if strace is None:
        return None
    with tempfile.TemporaryDirectory(prefix="strace-") as scratch:
        out = Path(scratch, "strace.txt")
        run = subprocess.run(
            [strace, "-f", "-c", "-o", str(out), *command],
            env=_environment(padding),
            capture_output=True,
            cwd=REPO_ROOT,
        )
        if run.returncode != 0:
            raise RuntimeError(f"strace run failed ({run.returncode}): {' '.join(command)}")
        calls: dict[str, int] = {}
        total = None
        # Rows: % time, seconds, usecs/call, calls, [errors,] syscall; a dashed rule; then the total row.
        for line in out.read_text().splitlines():
            fields = line.split()
            if len(fields) < 5 or not fields[3].isdigit():
                continue
            if fields[-1] == "total":
                total = int(fields[3])
            else:
                calls[fields[-1]] = int(fields[3])
    if total is None or total != sum(calls.values()):
        raise RuntimeError(f"strace's summary for {' '.join(command)} has no total row matching its rows")
    return calls


def count(name: str, candidate: str, calls: int, seed: int, at: Snapshot | None = None, padding: int = 0) -> Count:
    """Instructions and system calls per call of `name` for `candidate` (a store of revision `at`, if given).

    `padding` grows the environment and the temporary folder's name by that many characters. The case's
    fixture is built here, natively, first: built inside the counted run it would be counted as one call's work.
    So is every module's bytecode the worker imports (_prime): the counted runs write none, and compiling a module
    in one run that another process compiled before the next costs the first thousands of instructions more.
    """
    operation, size = find_case(name)
    if operation.builds is not None:
        operation.builds(Fixtures(seed=seed), size)
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as scratch:
        snapshot_file = None
        if at is not None:
            snapshot_file = Path(scratch, "snapshot.json")
            snapshot_file.write_text(at.to_json())
        full = _worker_command(name, candidate, calls, True, seed, snapshot_file)
        empty = _worker_command(name, candidate, calls, False, seed, snapshot_file)
        _prime(_worker_command(name, candidate, 1, True, seed, snapshot_file))
        instructions = (_callgrind_total(full, padding) - _callgrind_total(empty, padding)) / calls
        full_calls, empty_calls = _strace_calls(full, padding), _strace_calls(empty, padding)
    if full_calls is None or empty_calls is None:
        return Count(instructions, None)
    per_call = {
        name: (full_calls.get(name, 0) - empty_calls.get(name, 0)) / calls
        for name in sorted(set(full_calls) | set(empty_calls))
        if full_calls.get(name, 0) != empty_calls.get(name, 0)
    }
    return Count(instructions, sum(per_call.values()), per_call)


# --- many counts -----------------------------------------------------------------------------------


def measure_all(names: Sequence[str], candidates: Sequence[str], calls: int, seed: int) -> dict[str, dict[str, Count]]:
    build_fixtures(Fixtures(seed=seed), [find_case(name) for name in names])  # ahead, with progress, for count()
    counts: dict[str, dict[str, Count]] = {}
    total = len(names) * len(candidates)
    with progress.task("counting instructions", total) as step:
        for name, candidate in ((n, c) for n in names for c in candidates):
            step(f"{name} for {candidate}")
            counts.setdefault(name, {})[candidate] = count(name, candidate, calls, seed)
    return counts


# --- both sides in the same run: the working tree against a revision ------------------------------


@dataclass(frozen=True)
class Pair:
    """One benchmark counted for the working tree's store and for the store at a revision, in one run."""

    candidate: Count
    reference: Count

    @property
    def growth(self) -> float:
        return self.candidate.instructions / self.reference.instructions - 1


def calls_against(name: str, seconds_per_call: float | None = None) -> int:
    """Calls per counted run of benchmark `name` when both sides are counted (AGAINST_CALLS): fewer for a store whose
    call already takes COUNTED_SECONDS or more (about 100 million instructions, where a run's own wander of some
    20,000 is 0.02%), so a slow store's count takes seconds, not minutes."""
    operation, _ = find_case(name)
    most = AGAINST_CALLS.get(operation.name, DEFAULT_CALLS)
    if seconds_per_call is None or seconds_per_call <= 0:
        return most
    return max(1, min(most, math.ceil(COUNTED_SECONDS / seconds_per_call)))


def measure_against(
    names: Sequence[str],
    candidate: str | Snapshot,
    reference: Snapshot,
    seed: int,
    *,
    calls: int | Mapping[str, int] | None = None,
    paddings: tuple[int, int] = (0, 0),
) -> dict[str, Pair]:
    """Counts of `candidate` (a registered name or spec, or a work tree's snapshot) and of the revision's store per
    benchmark, no saved counts involved.

    `paddings` (candidate's, reference's) run each side with a differently sized environment and
    temporary folder name: the calibration's A/A uses it, the gate runs both sides alike.
    """
    require("valgrind")
    build_fixtures(Fixtures(seed=seed), [find_case(name) for name in names])  # built natively, not under valgrind
    # A store of the package is counted as loaded from the working tree's files by the revision's loader:
    # imported the usual way instead, the same code counted up to 50% apart (another heap, other names).
    own = candidate if isinstance(candidate, Snapshot) else revision.registered(candidate, REPO_ROOT)
    candidate_spec = own.spec() if own else str(candidate)
    pairs = {}
    # Both sides are counted at once, one on each core: a count is of instructions and system calls, not of time,
    # and the counted process's clock runs an hour ahead (_clock_ahead), so another process beside it changes none.
    with progress.task("counting instructions", len(names)) as step, ThreadPoolExecutor(max_workers=2) as pool:
        for name in names:
            step(f"{name} for {own.label if own else candidate} and at {reference.label}")
            n = calls.get(name, calls_against(name)) if isinstance(calls, Mapping) else calls or calls_against(name)
            mine = pool.submit(count, name, candidate_spec, n, seed, at=own, padding=paddings[0])
            theirs = pool.submit(count, name, reference.spec(), n, seed, at=reference, padding=paddings[1])
            pairs[name] = Pair(mine.result(), theirs.result())
    return pairs


def syscalls_text(value: float | None) -> str:
    return "n/a (strace not installed)" if value is None else f"{value:g}"


def selected_names(quick: bool, only: Sequence[str] | None) -> list[str]:
    if only:
        return [case_name(*find_case(name)) for name in only]
    return [case_name(op, size) for op, size in cases(quick=quick)]


def main(argv: Sequence[str] | None = None) -> None:
    """A counted worker process: `python -m bench.runners.instructions --worker NAME CANDIDATE CALLS MODE SEED`."""
    parser = argparse.ArgumentParser(prog="python -m bench.runners.instructions", description="a counted worker")
    parser.add_argument(
        "--worker", nargs=5, required=True, metavar=("NAME", "CANDIDATE", "CALLS", "MODE", "SEED"), help="the case"
    )
    parser.add_argument("--worker-snapshot", type=Path, metavar="FILE", help="a revision's sources, as JSON")
    args = parser.parse_args(argv)
    name, candidate, calls, mode, seed = args.worker
    at = Snapshot.from_json(args.worker_snapshot.read_text()) if args.worker_snapshot else None
    run_worker(name, candidate, int(calls), mode == "calls", int(seed), at)


if __name__ == "__main__":
    main()
