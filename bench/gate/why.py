"""Why a benchmark got slower: both sides' profiles (bench.runners.profiles) set side by side, the functions whose
calls per call changed, those whose own time grew most, and each system call that changed tied to the Python
functions that make it. Call counts and system calls are exact counts: they carry no interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bench.gate.outcome import Outcome
from bench.runners import instructions as counting
from bench.runners import profiles
from bench.runners.instructions import Pair
from bench.runners.profiles import Called, Profile
from bench.stores.snapshot import Snapshot

SHOWN: Final = 8  # functions per list
# The builtins through which Python code makes each system call (as cProfile names them).
SYSCALL_SOURCES: Final[Mapping[str, tuple[str, ...]]] = {
    "newfstatat": ("posix.stat", "posix.lstat", "posix.fstat", "DirEntry.stat", "DirEntry.is_file", "DirEntry.is_dir"),
    "statx": ("posix.stat", "posix.lstat", "posix.fstat", "DirEntry.stat", "DirEntry.is_file", "DirEntry.is_dir"),
    "fstat": ("posix.fstat", "io.open", "FileIO.readall"),
    "openat": ("io.open", "posix.open", "posix.listdir", "posix.scandir"),
    "getdents64": ("posix.listdir", "posix.scandir"),
    "read": ("FileIO.read", "FileIO.readall", "FileIO.readinto", "posix.read", "BufferedReader.read"),
    "write": ("FileIO.write", "posix.write", "BufferedWriter.write", "BufferedWriter.flush", "TextIOWrapper.write"),
    "close": ("FileIO.close", "posix.close", "TextIOWrapper.close", "BufferedReader.close", "BufferedWriter.close"),
    "lseek": ("FileIO.seek", "FileIO.tell", "io.open", "posix.lseek"),
    "ioctl": ("FileIO.isatty", "io.open"),
    "rename": ("posix.replace", "posix.rename"),
    "renameat": ("posix.replace", "posix.rename"),
    "renameat2": ("posix.replace", "posix.rename"),
    "fsync": ("posix.fsync",),
    "fdatasync": ("posix.fdatasync",),
    "unlink": ("posix.unlink", "posix.remove"),
    "unlinkat": ("posix.unlink", "posix.remove", "posix.rmdir"),
    "mkdir": ("posix.mkdir",),
    "mkdirat": ("posix.mkdir",),
    "faccessat": ("posix.access",),
    "faccessat2": ("posix.access",),
    "clone": ("_thread.start_new_thread", "_thread.start_joinable_thread"),
    "clone3": ("_thread.start_new_thread", "_thread.start_joinable_thread"),
    "futex": ("lock.acquire", "_thread.lock.acquire", "Condition.wait", "Thread.join"),
    "getrandom": ("posix.urandom",),
}

# Every builtin above: the calls that reach the operating system.
REACHING: Final = frozenset(name for names in SYSCALL_SOURCES.values() for name in names)


@dataclass(frozen=True)
class Changed:
    """One function on both sides: calls and own seconds per call of the operation (0 where a side never calls it)."""

    name: str
    calls: float
    reference_calls: float
    own_seconds: float
    reference_own_seconds: float


@dataclass(frozen=True)
class SyscallCause:
    """A system call that changed per call, and the chain of Python functions that now make it so often."""

    syscall: str
    count: float
    reference_count: float
    chain: tuple[str, ...]  # the builtin first, then its callers up to the store's own code
    calls: float  # the builtin's calls per call, both sides
    reference_calls: float


@dataclass(frozen=True)
class Why:
    """A failing benchmark's difference between the two sides, function by function."""

    benchmark: str
    calls: int  # calls of the operation profiled on each side
    call_changes: list[Changed]  # by how much the calls per call changed, most first
    time_changes: list[Changed]  # by how much the own time per call grew, most first
    syscalls: list[SyscallCause]
    # Calls of the builtins that reach the operating system (files, directories, threads) that changed, each with
    # the chain of callers that makes them: what touches the disk, counted without strace.
    io_calls: list[tuple[Changed, tuple[str, ...]]]

    def lines(self, reference: str, side: str = "working tree") -> list[str]:
        """The diff as text, the most telling first: each system call that changed and the chain of functions that
        makes it, then the calls of the functions that reach the disk, then every call count, then own times."""
        lines = [self.head()]
        for cause in self.syscalls:
            lines.append(
                f"  {cause.syscall} {_n(cause.reference_count)} -> {_n(cause.count)} per call: {cause.chain[0]} "
                f"{_n(cause.calls)} calls/call (was {_n(cause.reference_calls)})"
            )
            lines.append(f"    {_chain_text(cause.chain)}")
        shown_causes = {cause.chain[0] for cause in self.syscalls}
        for changed, chain in self.io_calls:
            if changed.name not in shown_causes:
                lines.append(f"  {changed.name} {_n(changed.reference_calls)} -> {_n(changed.calls)} calls/call")
                lines.append(f"    {_chain_text(chain)}")
        if self.call_changes:
            lines.append(f"  calls per call that changed ({side} / {reference}):")
            lines += [
                f"    {_n(c.calls)} / {_n(c.reference_calls)}  {short(c.name)}" for c in self.call_changes[:SHOWN]
            ]
        if self.time_changes:
            lines.append("  own time per call, most grown (one profiled run a side: a pointer, not a verdict):")
            lines += [
                f"    {c.own_seconds * 1e6:,.1f} / {c.reference_own_seconds * 1e6:,.1f} µs  {short(c.name)}"
                for c in self.time_changes[:SHOWN]
            ]
        return lines

    def head(self, alike: Sequence[str] = (), unlike: Sequence[str] = ()) -> str:
        """alike: benchmarks whose calls changed as this one's; unlike: of the same method, otherwise (--verbose)."""
        also = f", also {', '.join(alike)}" if alike else ""
        other = f"; {', '.join(unlike)} in --verbose" if unlike else ""
        return f"why {self.benchmark}{also} (cProfile, {self.calls} calls a side; exact counts{other}):"

    @property
    def method_key(self) -> tuple[str, ...]:
        """What changed, by name: two sizes of one operation with the same key fail for the same reason."""
        return tuple(sorted(c.name for c in self.call_changes))

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "calls": self.calls,
            "call_changes": [vars(c) for c in self.call_changes],
            "time_changes": [vars(c) for c in self.time_changes],
            "syscalls": [vars(s) | {"chain": list(s.chain)} for s in self.syscalls],
            "io_calls": [vars(changed) | {"chain": list(chain)} for changed, chain in self.io_calls],
        }


def short(name: str) -> str:
    """A function as a reader looks for it: its file's name, not its path (the JSON keeps the path)."""
    head, paren, where = name.partition(" (")
    return f"{head} ({where.rpartition('/')[2]}" if paren else name


def _chain_text(chain: tuple[str, ...]) -> str:
    return "← " + " ← ".join(short(name) for name in chain[1:]) if len(chain) > 1 else "(no caller recorded)"


def _n(value: float) -> str:
    return f"{value:,.0f}" if abs(value - round(value)) < 1e-9 else f"{value:,.2f}"


def _side_by_side(mine: Profile, theirs: Profile) -> list[Changed]:
    names = set(mine.functions) | set(theirs.functions)
    empty = Called("", 0.0, 0.0, {})
    return [
        Changed(
            name,
            mine.functions.get(name, empty).calls,
            theirs.functions.get(name, empty).calls,
            mine.functions.get(name, empty).own_seconds,
            theirs.functions.get(name, empty).own_seconds,
        )
        for name in sorted(names)
    ]


def _is_store_code(name: str, files: tuple[str, ...]) -> bool:
    """A function of the store's own, where a chain of callers stops: in one of its files when the profile names
    them, else (a profile without them) any file named with a folder, as the standard library's never are."""
    where = name.rpartition(" (")[2].rpartition(":")[0]
    return where in files if files else "/" in where


def _chain(builtin: str, mine: Profile, theirs: Profile) -> tuple[str, ...]:
    """The builtin, then at each step up the caller whose calls of it grew most, up to the store's own code."""
    chain = [builtin]
    current = builtin
    for _ in range(6):
        called = mine.functions.get(current)
        if called is None or not called.callers:
            break
        before = theirs.functions.get(current)
        grown = {
            caller: count - (before.callers.get(caller, 0.0) if before else 0.0)
            for caller, count in called.callers.items()
        }
        current = max(grown, key=lambda caller: (grown[caller], called.callers[caller]))
        chain.append(current)
        if _is_store_code(current, mine.store_files) and not current.startswith("<"):  # past a comprehension
            break
    return tuple(chain)


def explain(benchmark: str, mine: Profile, theirs: Profile, counts: Pair | None) -> Why:
    """The two profiles of one benchmark, and the counts' system calls, as one diff."""
    both = _side_by_side(mine, theirs)
    call_changes = sorted(
        (c for c in both if abs(c.calls - c.reference_calls) > 1e-9),
        key=lambda c: (-abs(c.calls - c.reference_calls), c.name),
    )
    time_changes = sorted(
        (c for c in both if c.own_seconds > c.reference_own_seconds),
        key=lambda c: (-(c.own_seconds - c.reference_own_seconds), c.name),
    )
    causes = []
    if counts is not None and counts.candidate.by_syscall is not None and counts.reference.by_syscall is not None:
        now, before = counts.candidate.by_syscall, counts.reference.by_syscall
        for syscall in sorted(set(now) | set(before), key=lambda s: -abs(now.get(s, 0.0) - before.get(s, 0.0))):
            if now.get(syscall, 0.0) == before.get(syscall, 0.0):
                continue
            sources = [c for c in call_changes if c.name in SYSCALL_SOURCES.get(syscall, ())]
            if not sources:
                continue
            source = sources[0]
            # Who makes the calls: on the side that makes more of them (the reference's, where they fell).
            grew = source.calls > source.reference_calls
            causes.append(
                SyscallCause(
                    syscall,
                    now.get(syscall, 0.0),
                    before.get(syscall, 0.0),
                    _chain(source.name, mine, theirs) if grew else _chain(source.name, theirs, mine),
                    source.calls,
                    source.reference_calls,
                )
            )
    io_calls = [
        (c, _chain(c.name, mine, theirs) if c.calls > c.reference_calls else _chain(c.name, theirs, mine))
        for c in call_changes
        if c.name in REACHING
    ]
    return Why(benchmark, mine.calls, call_changes, time_changes, causes, io_calls)


def diff_against(outcome: Outcome, side: str | Snapshot, reference: Snapshot, seed: int, counts: Pair | None) -> Why:
    """Both sides of one benchmark profiled, at the calls a count of it makes, and set side by side."""
    calls = counting.calls_against(outcome.name, outcome.seconds_per_call)
    mine, theirs = profiles.profile_against(outcome.name, side, reference, seed, calls)
    return explain(outcome.name, mine, theirs, counts)
