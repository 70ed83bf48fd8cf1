"""A red verdict says why: both sides profiled (bench.runners.profiles), set side by side (bench.gate.why), each
system call and each call that reaches the disk tied to the store's function that makes it. Synthetic profiles pin
the rules; real profiles of planted stores show that the plant is what gets named."""

from __future__ import annotations

import ast
import shutil

import pytest

from bench.gate.planted import plant_work_in_source
from bench.gate.why import explain
from bench.model import location
from bench.model.fixtures import Fixtures
from bench.model.location import Location
from bench.model.results import REPO_ROOT
from bench.runners import instructions
from bench.runners.instructions import Count, Pair
from bench.runners.profiles import Profile, function_name, profile_against
from bench.stores import revision
from bench.stores.snapshot import Snapshot
from tests.common.profiles import READ, profile, reading_and_cached

STORE = "get_recent_runs (src/astraguard/hil/metrics/storage.py:95)"
LISTCOMP = "<listcomp> (src/astraguard/hil/metrics/storage.py:103)"
SEED = Fixtures().seed


def _listing(stats: float, through_listcomp: bool) -> Profile:
    """posix.stat reached through pathlib's stat and is_dir, from the store's function or a comprehension in it."""
    caller = LISTCOMP if through_listcomp else STORE
    functions = {
        STORE: (1.0, {}),
        "is_dir (pathlib.py:1245)": (stats, {caller: stats}),
        "stat (pathlib.py:1008)": (stats, {"is_dir (pathlib.py:1245)": stats}),
        "posix.stat": (stats, {"stat (pathlib.py:1008)": stats}),
    }
    if through_listcomp:
        functions[LISTCOMP] = (1.0, {STORE: 1.0})
    return profile("get_recent_runs[1000]", functions)


def test_a_system_call_that_grew_is_tied_through_pathlib_and_a_comprehension_to_the_stores_function() -> None:
    counts = Pair(Count(5.6e7, 1100.0, {"newfstatat": 1020.0}), Count(3.8e7, 111.0, {"newfstatat": 31.0}))
    why = explain("get_recent_runs[1000]", _listing(1019, True), _listing(30, False), counts)
    (cause,) = why.syscalls
    assert (cause.syscall, cause.count, cause.reference_count, cause.calls, cause.reference_calls) == (
        "newfstatat",
        1020.0,
        31.0,
        1019,
        30,
    )
    # Past the comprehension to the function it is in: both are named, the statement's line and the function's.
    assert cause.chain == ("posix.stat", "stat (pathlib.py:1008)", "is_dir (pathlib.py:1245)", LISTCOMP, STORE)
    lines = why.lines("d28fc34f11e0")
    assert lines[1] == "  newfstatat 31 -> 1,020 per call: posix.stat 1,019 calls/call (was 30)"
    assert lines[2] == (
        "    ← stat (pathlib.py:1008) ← is_dir (pathlib.py:1245) ← <listcomp> (storage.py:103) ← "
        "get_recent_runs (storage.py:95)"
    )
    # Calls are counts, said once, without an interval; the full paths stay in the JSON.
    assert "exact counts" in lines[0] and "[" not in lines[0].partition("(")[2]  # no interval
    assert why.to_json()["syscalls"][0]["chain"][-1] == STORE


def test_a_read_that_no_longer_touches_the_file_is_traced_on_the_side_that_still_does() -> None:
    cached, reading = reading_and_cached("get_run_metrics_warm[5000]")
    why = explain("get_run_metrics_warm[5000]", cached, reading, None)
    assert why.syscalls == []  # not counted: its answers differ
    ((changed, chain),) = why.io_calls
    assert (changed.name, changed.calls, changed.reference_calls) == ("io.open", 0.0, 1.0)
    assert chain == ("io.open", "open (pathlib.py:1036)", "read_text (pathlib.py:1053)", READ)
    assert why.lines("8a1380a11659")[1:3] == [
        "  io.open 1 -> 0 calls/call",
        "    ← open (pathlib.py:1036) ← read_text (pathlib.py:1053) ← get_run_metrics (storage.py:45)",
    ]


def test_the_same_function_has_the_same_name_in_both_processes() -> None:
    """pstats names builtins by their repr, which holds an address: each side's would differ, and match nothing."""
    assert function_name(("~", 0, "<built-in method __new__ of type object at 0x7f8d1045ea00>")) == "type.__new__"
    assert function_name(("~", 0, "<built-in method posix.stat>")) == "posix.stat"
    assert function_name(("~", 0, "<method 'read' of '_io.FileIO' objects>")) == "FileIO.read"
    here = function_name((str(REPO_ROOT / "storage" / "optimized.py"), 800, "get_recent_runs"))
    at_revision = function_name(("git:0123456789ab:storage/optimized.py", 800, "get_recent_runs"))
    assert here == at_revision == "get_recent_runs (storage/optimized.py:800)"


def _shipped() -> Snapshot:
    return revision.work_tree(REPO_ROOT, Location(location.DEFAULT_STORE, location.DEFAULT_CLASS))


def _planted(source_change: str, variant: str) -> tuple[Snapshot, Snapshot]:
    here = _shipped()
    module = here.store.module
    source = here.modules()[module]
    if source_change == "stat per entry":
        loop = "        for name in names:\n"
        assert source.count(loop) == 1, "the optimized store's listing loop moved: update this plant"
        source = source.replace(loop, loop + "            os.stat(prefix + name)\n")
    else:
        source = plant_work_in_source(source, "compare_runs", 20_000)
    return here.with_source(module, source, variant), here


def _def_line(snapshot: Snapshot, method: str) -> int:
    """The line cProfile names a function by: its code's first line, its first decorator's if it has one."""
    tree = ast.parse(snapshot.modules()[snapshot.store.module])
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == method)
    return min([node.lineno] + [d.lineno for d in node.decorator_list])


def test_a_planted_stat_per_examined_entry_is_named_by_function_and_line() -> None:
    planted, here = _planted("stat per entry", "stat-per-entry")
    name = "get_recent_runs[100]"
    counts = None
    if shutil.which("valgrind") and shutil.which("strace"):
        counts = instructions.measure_against([name], planted, here, SEED, calls=20)[name]
    mine, theirs = profile_against(name, planted, here, SEED, calls=20)
    why = explain(name, mine, theirs, counts)
    store_function = f"get_recent_runs (storage/optimized.py:{_def_line(planted, 'get_recent_runs')})"
    (stat, chain) = next((c, chain) for c, chain in why.io_calls if c.name == "posix.stat")
    # One per name examined, exactly: the shipped store stats the folder once, then once per name until the limit.
    assert stat.calls - stat.reference_calls == stat.reference_calls - 1 >= 10
    assert chain == ("posix.stat", store_function)
    if counts is not None:
        (cause,) = [c for c in why.syscalls if c.syscall in {"newfstatat", "statx"}]
        assert cause.count - cause.reference_count == stat.calls - stat.reference_calls
        assert cause.chain[-1] == store_function
        assert why.lines(here.commit[:12])[2] == f"    ← {store_function.replace('storage/', '')}"


def test_pure_python_work_planted_in_compare_runs_is_named_by_the_function_that_does_it() -> None:
    planted, here = _planted("work", "work")
    mine, theirs = profile_against("compare_runs[5000]", planted, here, SEED, calls=20)
    why = explain("compare_runs[5000]", mine, theirs, None)
    grown = why.time_changes[0]
    assert grown.name == f"compare_runs (storage/optimized.py:{_def_line(planted, 'compare_runs')})"
    assert grown.own_seconds > 10 * grown.reference_own_seconds  # 20,000 loop turns against a few dict reads
    assert why.io_calls == [] and why.syscalls == []  # no file is touched more: none is blamed


@pytest.mark.parametrize("name", ["get_run_metrics_warm[5000]", "save_latency_stats[1000]"])
def test_an_unchanged_store_profiles_to_no_call_that_changed(name: str) -> None:
    """Call counts are exact: the same store on both sides, in two processes, calls every function as often."""
    here = _shipped()
    mine, theirs = profile_against(
        name, here.with_source(here.store.module, here.modules()[here.store.module], "a"), here, SEED, calls=10
    )
    why = explain(name, mine, theirs, None)
    assert len(mine.functions) > 5 and why.call_changes == [] and why.io_calls == []


def test_the_chain_stops_at_the_stores_own_file_even_at_a_repositorys_root() -> None:
    """A store at the root (storage.py) has no folder in its name, like the standard library's files: the chain stops
    at the files the profile names as the store's, not at the harness's frame above it."""
    root = "get_recent_runs (storage.py:95)"

    def listing(stats: float) -> Profile:
        functions = {
            "call (bench/model/operations.py:10)": (1.0, {}),
            root: (1.0, {"call (bench/model/operations.py:10)": 1.0}),
            "stat (pathlib.py:1008)": (stats, {root: stats}),
            "posix.stat": (stats, {"stat (pathlib.py:1008)": stats}),
        }
        found = profile("get_recent_runs[1000]", functions)
        return Profile(found.benchmark, found.calls, found.functions, store_files=("storage.py",))

    ((_, chain),) = explain("get_recent_runs[1000]", listing(20), listing(10), None).io_calls
    assert chain == ("posix.stat", "stat (pathlib.py:1008)", root)
