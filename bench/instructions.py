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
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import storage
from bench import revision
from bench.errors import UsageError
from bench.fixtures import FORMAT_VERSION, Fixtures
from bench.operations import build_fixtures, case_name, cases, find_case, prepare
from bench.verdict import Verdict

SAVED_COUNTS: Final = Path("results/instructions/saved_counts.json")
CALIBRATION: Final = Path("results/instructions/calibration.json")
# Large enough that 2% exceeds the planted wrapper's own fixed cost (about 14k instructions per call).
CALIBRATION_BENCHMARK: Final = "get_recent_runs[1000]"
CALIBRATION_REPEATS: Final = 5
PLANTED_GROWTH: Final = 0.02  # the extra work the calibration plants: +2%, below what wall clock resolves
SAVED_FORMAT: Final = 1
DEFAULT_CALLS: Final = 3
WARM_UP_CALLS: Final = 2  # untimed, in both runs of a count
REPEATS_FOR_TOLERANCE: Final = 3
# The saved tolerance is this many times the largest relative spread seen over the repeats.
TOLERANCE_PER_SPREAD: Final = 4.0
HASH_SEED: Final = "0"
# Calibration varies the environment's size and the temporary folder's name length by this many
# characters, to show a count does not hang on either (the stack and path strings move with them).
PADDING_ENV: Final = "BENCH_COUNT_PADDING"
_TOTALS: Final = re.compile(r"^(?:summary|totals):\s+(\d+)", re.MULTILINE)


class ToolMissing(RuntimeError):
    """valgrind or strace is not installed (both are Debian packages)."""


@dataclass(frozen=True)
class Count:
    """Per call of one operation at one size for one store."""

    instructions: float
    syscalls: float | None  # None when strace is not installed


# --- the measured process ---------------------------------------------------------------------------


def run_worker(
    name: str, candidate: str, calls: int, with_calls: bool, seed: int, at: revision.Snapshot | None = None
) -> None:
    """Set up the case, then `calls` iterations of (refresh; call) or of refresh alone.

    `at` installs that revision's package first, so `candidate` may name its store.
    """
    operation, size = find_case(name)
    if at is not None:
        revision.install(at)
    prefix = "bench-count-" + "p" * (len(os.environ.get(PADDING_ENV, "")) % 64)
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        case = prepare(operation, size, storage.resolve(candidate), Path(scratch), Fixtures(seed=seed))
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


# --- counting from outside --------------------------------------------------------------------------


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolMissing(f"{tool} is not installed: `apt-get install {tool}` (a Debian package)")
    return path


def _worker_command(
    name: str, candidate: str, calls: int, with_calls: bool, seed: int, snapshot_file: Path | None
) -> list[str]:
    mode = "calls" if with_calls else "refresh-only"
    command = [sys.executable, "-m", "bench.instructions", "--worker", name, candidate, str(calls), mode, str(seed)]
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


def _callgrind_total(command: list[str], padding: int = 0) -> int:
    valgrind = _require("valgrind")
    with tempfile.TemporaryDirectory(prefix="callgrind-") as scratch:
        out = Path(scratch, "callgrind.out")
        run = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}", *command],
            env=_environment(padding),
            capture_output=True,
            text=True,
        )
        if run.returncode != 0:
            raise RuntimeError(f"callgrind run failed ({run.returncode}): {' '.join(command)}\n{run.stderr[-2000:]}")
        match = _TOTALS.search(out.read_text())
    if match is None:
        raise RuntimeError(f"no totals line in callgrind's output for {' '.join(command)}")
    return int(match.group(1))


def _strace_total(command: list[str], padding: int = 0) -> int | None:
    strace = shutil.which("strace")
    if strace is None:
        return None
    with tempfile.TemporaryDirectory(prefix="strace-") as scratch:
        out = Path(scratch, "strace.txt")
        run = subprocess.run(
            [strace, "-f", "-c", "-o", str(out), *command], env=_environment(padding), capture_output=True
        )
        if run.returncode != 0:
            raise RuntimeError(f"strace run failed ({run.returncode}): {' '.join(command)}")
        for line in out.read_text().splitlines():
            fields = line.split()
            if fields and fields[-1] == "total":
                return int(fields[3])  # % time, seconds, usecs/call, calls, [errors,] syscall
    raise RuntimeError(f"no total line in strace's summary for {' '.join(command)}")


def count(
    name: str, candidate: str, calls: int, seed: int, at: revision.Snapshot | None = None, padding: int = 0
) -> Count:
    """Instructions and system calls per call of `name` for `candidate` (a store of revision `at`, if given).

    `padding` grows the environment and the temporary folder's name by that many characters.
    """
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as scratch:
        snapshot_file = None
        if at is not None:
            snapshot_file = Path(scratch, "snapshot.json")
            snapshot_file.write_text(at.to_json())
        full = _worker_command(name, candidate, calls, True, seed, snapshot_file)
        empty = _worker_command(name, candidate, calls, False, seed, snapshot_file)
        instructions = (_callgrind_total(full, padding) - _callgrind_total(empty, padding)) / calls
        full_syscalls, empty_syscalls = _strace_total(full, padding), _strace_total(empty, padding)
    syscalls = None if full_syscalls is None or empty_syscalls is None else (full_syscalls - empty_syscalls) / calls
    return Count(instructions, syscalls)


# --- saved counts and the gate ---------------------------------------------------------------------


def provenance(seed: int) -> dict[str, object]:
    """Counts are only comparable for the same interpreter build, control and fixtures."""
    return {
        "python": sys.version,
        "python_sha256": hashlib.sha256(Path(os.path.realpath(sys.executable)).read_bytes()).hexdigest(),
        "machine": platform.machine(),
        "baseline_sha256": hashlib.sha256(Path(storage.baseline.__file__).read_bytes()).hexdigest(),
        "fixture_seed": seed,
        "fixture_version": FORMAT_VERSION,
        "hash_seed": HASH_SEED,
    }


def measure_all(
    names: Sequence[str], candidates: Sequence[str], calls: int, seed: int, progress: Callable[[str], None]
) -> dict[str, dict[str, Count]]:
    build_fixtures(Fixtures(seed=seed), [find_case(name) for name in names])  # built natively, not under valgrind
    counts: dict[str, dict[str, Count]] = {}
    total = len(names) * len(candidates)
    for i, (name, candidate) in enumerate((n, c) for n in names for c in candidates):
        progress(f"[{i + 1}/{total}] counting {name} for {candidate}")
        counts.setdefault(name, {})[candidate] = count(name, candidate, calls, seed)
    return counts


def save(path: Path, repeats: list[dict[str, dict[str, Count]]], prov: dict[str, object], calls: int) -> str:
    """Median counts of the repeats, and per benchmark a tolerance from their spread."""
    document: dict[str, object] = {"format": SAVED_FORMAT, "provenance": prov, "calls": calls, "counts": {}}
    lines = []
    for name, per_candidate in repeats[0].items():
        entry = {}
        for candidate in per_candidate:
            values = sorted(run[name][candidate].instructions for run in repeats)
            median = values[len(values) // 2]
            spread = max(abs(v / median - 1) for v in values)
            entry[candidate] = {
                "instructions_per_call": median,
                "syscalls_per_call": repeats[0][name][candidate].syscalls,
                "repeat_instructions": values,
                "spread": spread,
                "tolerance": TOLERANCE_PER_SPREAD * spread,
            }
            lines.append(f"{name} {candidate}: {median:,.0f} instructions/call, spread {spread:.4%}")
        document["counts"][name] = entry  # type: ignore[index]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
    return "\n".join(lines)


def load(path: Path, prov: dict[str, object]) -> dict[str, dict[str, dict[str, float]]]:
    if not path.is_file():
        raise UsageError(f"no saved instruction counts at {path}: run `python -m bench.instructions --save`")
    document = json.loads(path.read_text())
    for key, value in prov.items():
        if document["provenance"].get(key) != value:
            raise UsageError(
                f"instruction counts provenance mismatch on {key}: saved {document['provenance'].get(key)!r}, "
                f"now {value!r}; counts depend on the exact interpreter build: re-save them on this machine"
            )
    return document["counts"]


def check(
    saved: dict[str, dict[str, dict[str, float]]], now: dict[str, dict[str, Count]], candidate: str
) -> list[tuple[bool, str]]:
    """(failed, line) per benchmark: a count that grew beyond its saved tolerance fails."""
    results = []
    for name, per_candidate in now.items():
        measured = per_candidate[candidate].instructions
        # A candidate without saved counts of its own (a planted copy, an outside store) answers to optimized's.
        entry = saved.get(name, {}).get(candidate if candidate in saved.get(name, {}) else "optimized")
        if entry is None:
            results.append((True, f"UNSAVED    {name}: {measured:,.0f} instructions/call, no saved count"))
            continue
        limit = entry["instructions_per_call"] * (1 + entry["tolerance"])
        growth = measured / entry["instructions_per_call"] - 1
        failed = measured > limit
        verdict = "REGRESSED" if failed else "UNCHANGED"
        syscalls = per_candidate[candidate].syscalls
        results.append(
            (
                failed,
                f"{verdict:<11}{name}: {measured:,.0f} instructions/call ({growth:+.3%}), "
                f"saved {entry['instructions_per_call']:,.0f} (tolerance {entry['tolerance']:.3%}, "
                f"regression above {limit:,.0f}); syscalls/call {_syscalls_text(syscalls)}",
            )
        )
    return results


# --- both sides in the same run: the working tree against a revision ------------------------------


@dataclass(frozen=True)
class Pair:
    """One benchmark counted for the working tree's store and for the store at a revision, in one run."""

    candidate: Count
    reference: Count

    @property
    def growth(self) -> float:
        return self.candidate.instructions / self.reference.instructions - 1


def measure_against(
    names: Sequence[str],
    candidate: str,
    reference: revision.Snapshot,
    seed: int,
    progress: Callable[[str], None],
    *,
    calls: int = DEFAULT_CALLS,
    paddings: tuple[int, int] = (0, 0),
) -> dict[str, Pair]:
    """Counts of `candidate` and of the revision's store per benchmark, no saved counts involved.

    `paddings` (candidate's, reference's) run each side with a differently sized environment and
    temporary folder name: the calibration's A/A uses it, the gate runs both sides alike.
    """
    _require("valgrind")
    build_fixtures(Fixtures(seed=seed), [find_case(name) for name in names])  # built natively, not under valgrind
    # A store of the package is counted as loaded from the working tree's files by the revision's loader:
    # imported the usual way instead, the same code counted up to 50% apart (another heap, other names).
    store_class = storage.resolve(candidate)
    module = store_class.__module__.removeprefix(f"{revision.PACKAGE}.")
    own = revision.working_tree_snapshot() if store_class.__module__ == f"{revision.PACKAGE}.{module}" else None
    candidate_spec = own.spec(f"{module}:{store_class.__name__}") if own else candidate
    pairs = {}
    for i, name in enumerate(names):
        progress(f"[{i + 1}/{len(names)}] counting {name} for {candidate} and at {reference.label}")
        pairs[name] = Pair(
            count(name, candidate_spec, calls, seed, at=own, padding=paddings[0]),
            count(name, reference.spec(), calls, seed, at=reference, padding=paddings[1]),
        )
    return pairs


def decide(pair: Pair, tolerance: float) -> Verdict:
    """Counts repeat closely: a growth past the tolerance is a regression, a fall past it an improvement."""
    if pair.growth > tolerance:
        return Verdict.REGRESSED
    if pair.growth < -tolerance:
        return Verdict.IMPROVED
    return Verdict.UNCHANGED


def against_line(name: str, pair: Pair, verdict: Verdict, reference: revision.Snapshot) -> str:
    short = reference.commit[:12]
    return (
        f"{verdict.name:<11}{name}: {pair.candidate.instructions:,.0f} instructions/call, at {short} "
        f"{pair.reference.instructions:,.0f} ({pair.growth:+.3%}); syscalls/call "
        f"{_syscalls_text(pair.candidate.syscalls)}, at {short} {_syscalls_text(pair.reference.syscalls)}"
    )


def planted_iterations(base: float, growth: float, count_with: Callable[[int], float]) -> tuple[int, float]:
    """(iterations, fixed cost): planted loop iterations that add `growth` (a fraction) to a count of `base`.

    Planted work costs a fixed amount per call plus a cost per loop iteration: two probes give both.
    `count_with(iterations)` is the count per call with that many planted iterations.
    """
    probes = {iterations: count_with(iterations) for iterations in (1_000, 20_000)}
    per_iteration = (probes[20_000] - probes[1_000]) / 19_000
    fixed = probes[1_000] - base - 1_000 * per_iteration
    return max(1, round((growth * base - fixed) / per_iteration)), fixed


def calibrate(name: str, calls: int, seed: int, saved_path: Path, progress: Callable[[str], None]) -> dict:
    """Repeat the count to show its spread; plant +2% extra work and show the saved tolerance catches it."""
    from bench.planted import method_timed_by, planted_work_name

    operation, _ = find_case(name)
    method = method_timed_by(operation.name)
    started = time.monotonic()
    build_fixtures(Fixtures(seed=seed), [find_case(name)])
    repeats: list[Count] = []
    for i in range(CALIBRATION_REPEATS):
        progress(f"[{i + 1}/{CALIBRATION_REPEATS}] counting {name} for optimized")
        repeats.append(count(name, "optimized", calls, seed))
    base = sorted(r.instructions for r in repeats)[len(repeats) // 2]

    def planted_count(iterations: int) -> float:
        progress(f"counting {iterations} iterations of planted work on {name}")
        planted = f"bench.planted:{planted_work_name('optimized', method, iterations)}"
        return count(name, planted, calls, seed).instructions

    iterations, fixed = planted_iterations(base, PLANTED_GROWTH, planted_count)
    planted = f"bench.planted:{planted_work_name('optimized', method, iterations)}"
    progress(f"counting {planted}")
    planted_count = count(name, planted, calls, seed)
    saved = load(saved_path, provenance(seed))
    verdicts = {
        "unchanged": check(saved, {name: {"optimized": repeats[-1]}}, "optimized")[0],
        "planted": check(saved, {name: {"optimized": planted_count}}, "optimized")[0],
    }
    result = {
        "benchmark": name,
        "calls_per_run": calls,
        "repeat_instructions": [r.instructions for r in repeats],
        "spread": max(abs(r.instructions / base - 1) for r in repeats),
        "planted_wrapper_fixed_instructions": fixed,
        "saved_tolerance": saved[name]["optimized"]["tolerance"],
        "planted_iterations": iterations,
        "planted_growth": planted_count.instructions / base - 1,
        "unchanged_fails": verdicts["unchanged"][0],
        "planted_fails": verdicts["planted"][0],
        "lines": [verdicts["unchanged"][1], verdicts["planted"][1]],
        "seconds": time.monotonic() - started,
    }
    CALIBRATION.parent.mkdir(parents=True, exist_ok=True)
    CALIBRATION.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _syscalls_text(value: float | None) -> str:
    return "n/a (strace not installed)" if value is None else f"{value:g}"


def table(counts: dict[str, dict[str, Count]]) -> str:
    rows = [
        "| benchmark | store | instructions/call | vs baseline | syscalls/call |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, per_candidate in counts.items():
        base = per_candidate.get("baseline")
        for candidate, c in per_candidate.items():
            ratio = f"{c.instructions / base.instructions:.3f}" if base else "-"
            rows.append(f"| `{name}` | {candidate} | {c.instructions:,.0f} | {ratio} | {_syscalls_text(c.syscalls)} |")
    return "\n".join(rows)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="Count instructions (callgrind) and system calls (strace) per call of each benchmark.",
    )
    parser.add_argument("--candidates", default="baseline,optimized", help="comma-separated (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="the quick sizes only")
    parser.add_argument("--only", action="append", metavar="NAME", help='benchmark "op[size]"; repeatable')
    parser.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="calls per counted run (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=Fixtures().seed)
    parser.add_argument(
        "--save", action="store_true", help=f"repeat {REPEATS_FOR_TOLERANCE}x and rewrite the saved counts"
    )
    parser.add_argument("--saved", type=Path, default=SAVED_COUNTS, help="default: %(default)s")
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help=f"repeat {CALIBRATION_BENCHMARK} {CALIBRATION_REPEATS}x, plant +2%% work, update results/GATE.md",
    )
    parser.add_argument(
        "--worker", nargs=5, metavar=("NAME", "CANDIDATE", "CALLS", "MODE", "SEED"), help=argparse.SUPPRESS
    )
    parser.add_argument("--worker-snapshot", type=Path, metavar="FILE", help=argparse.SUPPRESS)
    return parser


def selected_names(quick: bool, only: Sequence[str] | None) -> list[str]:
    if only:
        return [case_name(*find_case(name)) for name in only]
    return [case_name(op, size) for op, size in cases(quick=quick)]


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        name, candidate, calls, mode, seed = args.worker
        at = revision.Snapshot.from_json(args.worker_snapshot.read_text()) if args.worker_snapshot else None
        run_worker(name, candidate, int(calls), mode == "calls", int(seed), at)
        return 0
    candidates = [c.strip() for c in args.candidates.split(",") if c.strip()]
    try:
        for candidate in candidates:
            storage.resolve(candidate)
        _require("valgrind")
        names = selected_names(args.quick, args.only)
    except (LookupError, ToolMissing) as e:
        if isinstance(e, LookupError) and type(e) is not LookupError:
            raise  # a KeyError or IndexError is a bug: its traceback, not a usage error
        print(f"bench.instructions: error: {e}", file=sys.stderr)
        return 2
    progress: Callable[[str], None] = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    started = time.monotonic()
    if args.calibrate:
        from bench.gate_calibration import write_gate_report

        try:
            result = calibrate(CALIBRATION_BENCHMARK, args.calls, args.seed, args.saved, progress)
        except UsageError as e:  # missing or foreign saved counts
            print(f"bench.instructions: error: {e}", file=sys.stderr)
            return 2
        print("\n".join(result["lines"]))
        write_gate_report()
        return 0
    if args.save:
        repeats = [
            measure_all(names, candidates, args.calls, args.seed, progress) for _ in range(REPEATS_FOR_TOLERANCE)
        ]
        print(save(args.saved, repeats, provenance(args.seed), args.calls))
        print(table(repeats[0]))
    else:
        print(table(measure_all(names, candidates, args.calls, args.seed, progress)))
    print(f"counted in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
