"""Where a benchmark's calls go, function by function: Python's own profiler (cProfile) over the calls of one side,
in a worker process of its own (`python -m bench.runners.profiles --worker ...`). Each function's calls per call,
builtins included, with its callers, and its own time per call. Call counts are exact: the same code and inputs
call the same functions as often, so they carry no interval; own times are one run's, a pointer and no verdict."""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import storage
from bench.model.fixtures import Fixtures
from bench.model.operations import find_case, prepare
from bench.model.results import REPO_ROOT
from bench.stores import loading, revision
from bench.stores.snapshot import Snapshot

WARM_UP_CALLS: Final = 2  # a cache's first-hit work is not a steady call's
_BUILTIN: Final = re.compile(r"^<built-in method (?P<name>[\w.]+)>$")
_BOUND: Final = re.compile(r"^<built-in method (?P<name>\w+) of (?P<type>\w+) object>$")
_METHOD: Final = re.compile(r"^<method '(?P<name>\w+)' of '(?:[\w.]*\.)?(?P<type>\w+)' objects>$")
_REVISION: Final = re.compile(r"^git:[0-9a-f]{12}:")
_ADDRESS: Final = re.compile(r" at 0x[0-9a-f]+")  # differs between processes: two sides' names would never match


@dataclass(frozen=True)
class Called:
    """One function's calls per call of the operation, its own seconds per call, and its callers' calls of it."""

    name: str  # "posix.stat", "FileIO.read", "get_recent_runs (src/.../storage.py:212)"
    calls: float
    own_seconds: float
    callers: dict[str, float]


@dataclass(frozen=True)
class Profile:
    """One side's profile of one benchmark: every function called, per call of the operation."""

    benchmark: str
    calls: int  # the operation's calls profiled
    functions: dict[str, Called]
    store_files: tuple[str, ...] = ()  # the files the store's class and its bases are defined in, as named here

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "calls": self.calls,
            "functions": {key: vars(called) for key, called in self.functions.items()},
            "store_files": list(self.store_files),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Profile:
        functions = {key: Called(**called) for key, called in document["functions"].items()}
        return cls(document["benchmark"], document["calls"], functions, tuple(document.get("store_files", ())))


def store_files(store_class: object) -> tuple[str, ...]:
    """Where the class and its bases define their methods, named as function_name names files."""
    found = set()
    for klass in getattr(store_class, "__mro__", ())[:-1]:  # object's are the interpreter's
        for member in vars(klass).values():
            function = getattr(member, "__func__", member)  # a staticmethod's or classmethod's function
            if hasattr(function, "__code__"):
                found.add(_where(function.__code__.co_filename))
    return tuple(sorted(found))


def _where(filename: str) -> str:
    """A function's file as both sides name it: a revision's prefix dropped, a path from the repository's root, the
    standard library's by its module file."""
    filename = _REVISION.sub("", filename)
    path = Path(filename)
    if path.is_absolute():
        return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else path.name
    return filename


def function_name(key: tuple[str, int, str]) -> str:
    """pstats' (file, line, name) as a reader names it: posix.stat, FileIO.read, or get_recent_runs (storage.py:212)."""
    filename, line, name = key
    name = _ADDRESS.sub("", name)
    if filename == "~":
        if match := _BUILTIN.match(name):
            return match["name"]
        if match := _BOUND.match(name) or _METHOD.match(name):
            return f"{match['type']}.{match['name']}"
        return name
    return f"{name} ({_where(filename)}:{line})"


def run_worker(name: str, candidate: str, calls: int, seed: int, at: Snapshot | None, output: Path) -> None:
    """Sets the case up, makes WARM_UP_CALLS unprofiled calls, then profiles `calls` calls (refreshes unprofiled)."""
    operation, size = find_case(name)
    store_class = loading.load(at)[0] if at is not None else storage.resolve(candidate)
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as scratch:
        case = prepare(operation, size, store_class, Path(scratch), Fixtures(seed=seed))
        refresh, call = case.subject.refresh, case.subject.call
        profiler = cProfile.Profile()
        with case.entered():
            for number in range(WARM_UP_CALLS + calls):
                if refresh is not None:
                    refresh()
                if number < WARM_UP_CALLS:
                    call()
                    continue
                profiler.enable()
                call()
                profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]  # {key: (cc, nc, tt, ct, callers)}
    functions: dict[str, Called] = {}
    for key, (_, total, own, _, callers) in stats.items():
        named = function_name(key)
        functions[named] = Called(
            named,
            total / calls,
            own / calls,
            {function_name(caller): numbers[1] / calls for caller, numbers in callers.items()},
        )
    output.write_text(json.dumps(Profile(name, calls, functions, store_files(store_class)).to_json()))


def profile_one(name: str, spec: str, calls: int, seed: int, at: Snapshot | None = None) -> Profile:
    """One side's profile of benchmark `name`, made in a worker process of its own."""
    with tempfile.TemporaryDirectory(prefix="bench-profiles-") as scratch:
        command = [sys.executable, "-m", "bench.runners.profiles", "--worker", name, spec, str(calls), str(seed)]
        output = Path(scratch, "profile.json")
        command += ["--output", str(output)]
        if at is not None:
            snapshot = Path(scratch, "snapshot.json")
            snapshot.write_text(at.to_json())
            command += ["--worker-snapshot", str(snapshot)]
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"profiling {name} of {spec} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        return Profile.from_json(json.loads(output.read_text()))


def profile_against(
    name: str, candidate: str | Snapshot, reference: Snapshot, seed: int, calls: int
) -> tuple[Profile, Profile]:
    """(the candidate's profile, the reference's) of one benchmark, both profiled at once, one on each core: the
    call counts are what is compared, and another process beside one changes none of them."""
    own = candidate if isinstance(candidate, Snapshot) else revision.registered(candidate, REPO_ROOT)
    spec = own.spec() if own else str(candidate)
    with ThreadPoolExecutor(max_workers=2) as pool:
        mine = pool.submit(profile_one, name, spec, calls, seed, own)
        theirs = pool.submit(profile_one, name, reference.spec(), calls, seed, reference)
        return mine.result(), theirs.result()


def main(argv: Sequence[str] | None = None) -> None:
    """A profiled worker process: `python -m bench.runners.profiles --worker NAME CANDIDATE CALLS SEED --output F`."""
    parser = argparse.ArgumentParser(prog="python -m bench.runners.profiles", description="a profiled worker")
    parser.add_argument("--worker", nargs=4, required=True, metavar=("NAME", "CANDIDATE", "CALLS", "SEED"))
    parser.add_argument("--worker-snapshot", type=Path, metavar="FILE", help="a revision's sources, as JSON")
    parser.add_argument("--output", type=Path, required=True, metavar="FILE", help="where the profile goes")
    args = parser.parse_args(argv)
    name, candidate, calls, seed = args.worker
    at = Snapshot.from_json(args.worker_snapshot.read_text()) if args.worker_snapshot else None
    run_worker(name, candidate, int(calls), int(seed), at, args.output)


if __name__ == "__main__":
    main()
