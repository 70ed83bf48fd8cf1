"""Hostile input: run ids that would escape results_dir, summaries that are broken, huge or never end, odd trees.

Each case either behaves exactly like the baseline (same return, same exception, same printed
line) or is a listed divergence, pinned here from both sides.
"""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from storage import baseline, optimized
from storage.latency import LatencyCollector
from tests.common.call_outcomes import Outcome, outcome_of
from tests.common.tagged_collectors import tagged_collector

SUMMARY = optimized.SUMMARY_NAME
BLOCKED_READ_TIMEOUT_S = 10

# Mode bits must bind the test: as root it runs in a child without CAP_DAC_OVERRIDE (tests/common/kernel_faults.py).
unprivileged = pytest.mark.unprivileged


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    optimized.clear_summary_cache()


def _tree_snapshot(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --- run ids -------------------------------------------------------------------------------------

ESCAPING_RUN_IDS = {
    "parent": "..",
    "self": ".",
    "empty": "",
    "climbs-out": "../outside",
    "nested": "a/b",
    "absolute": "/absolute-run",
    "nul": "run\0id",
    "256-bytes": "x" * 256,
    "256-bytes-of-two-byte-chars": "é" * 128,
}


@pytest.mark.parametrize("run_id", ESCAPING_RUN_IDS.values(), ids=ESCAPING_RUN_IDS.keys())
def test_escaping_run_id_is_refused_by_name_and_nothing_is_created(tmp_path: Path, run_id: str) -> None:
    results_dir = tmp_path / "sandbox" / "results"
    results_dir.mkdir(parents=True)
    absolute = run_id.startswith("/")
    run_id = str(tmp_path / "sandbox" / run_id.lstrip("/")) if absolute else run_id
    with pytest.raises(ValueError) as refused:
        optimized.MetricsStorage(run_id, str(results_dir))
    assert repr(run_id) in str(refused.value)
    assert _tree_snapshot(tmp_path) == ["sandbox", "sandbox/results"]


@pytest.mark.parametrize("run_id", ESCAPING_RUN_IDS.values(), ids=ESCAPING_RUN_IDS.keys())
def test_escaping_other_run_id_of_compare_is_refused_by_name(tmp_path: Path, run_id: str) -> None:
    store = optimized.MetricsStorage("mine", str(tmp_path / "results"))
    store.save_latency_stats(tagged_collector(0, 1, 10))
    before = _tree_snapshot(tmp_path)
    with pytest.raises(ValueError) as refused:
        store.compare_runs(run_id)
    assert repr(run_id) in str(refused.value)
    assert _tree_snapshot(tmp_path) == before


def test_run_id_one_byte_over_this_file_systems_name_limit_is_refused(tmp_path: Path) -> None:
    name_max = os.pathconf(tmp_path, "PC_NAME_MAX")
    too_long = "r" * (name_max + 1)
    with pytest.raises(ValueError, match=f"'{too_long}'"):
        optimized.MetricsStorage(too_long, str(tmp_path))
    longest = "r" * min(name_max, optimized._NAME_MAX_BYTES)  # the store's own limit is 255 bytes everywhere
    optimized.MetricsStorage(longest, str(tmp_path)).save_latency_stats(tagged_collector(0, 1, 10))
    assert optimized.MetricsStorage.get_recent_runs(str(tmp_path)) == [longest]


# --- summaries -----------------------------------------------------------------------------------


def _saved_summary(tmp_path: Path) -> bytes:
    store = baseline.MetricsStorage("source", str(tmp_path / "source"))
    store.save_latency_stats(tagged_collector(0, 1, 30))
    return (store.metrics_dir / SUMMARY).read_bytes()


BROKEN_SUMMARIES: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda whole: whole[: len(whole) // 2],
    "cut-after-one-byte": lambda whole: whole[:1],
    "empty": lambda whole: b"",
    "not-utf8": lambda whole: whole.decode().encode("utf-16"),
    "stray-byte": lambda whole: whole[:100] + b"\xff" + whole[100:],
    "not-json": lambda whole: b"metrics: none\n",
    "nested-past-the-recursion-limit": lambda whole: b"[" * 100_000,
    "int-past-the-digit-limit": lambda whole: b'{"total_measurements": ' + b"9" * 5000 + b"}",
}


@pytest.mark.parametrize("make", BROKEN_SUMMARIES.values(), ids=BROKEN_SUMMARIES.keys())
def test_broken_summary_is_none_with_the_baselines_error_line(tmp_path: Path, make: Callable[[bytes], bytes]) -> None:
    content = make(_saved_summary(tmp_path))
    outcomes = {}
    for store_class in (baseline.MetricsStorage, optimized.MetricsStorage):
        store = store_class("r", str(tmp_path / "results"))
        (store.metrics_dir / SUMMARY).write_bytes(content)
        outcomes[store_class] = outcome_of(store.get_run_metrics)
    opt = outcomes[optimized.MetricsStorage]
    assert opt == outcomes[baseline.MetricsStorage]
    assert opt.returned is None
    assert opt.printed.startswith(f"[ERROR] Failed to load metrics from {tmp_path}/results/r/{SUMMARY}: ")
    assert opt.printed.count("\n") == 1


def _write_json_object_of_size(path: Path, size: int) -> None:
    """A valid JSON object of exactly `size` bytes, written in 1 MiB pieces."""
    head, tail = b'{"padding": "', b'"}'
    pad = size - len(head) - len(tail)
    with path.open("wb") as f:
        f.write(head)
        for start in range(0, pad, 1 << 20):
            f.write(b"x" * min(1 << 20, pad - start))
        f.write(tail)


def test_100_mb_summary_is_refused_with_the_reported_error(tmp_path: Path) -> None:
    store = optimized.MetricsStorage("r", str(tmp_path))
    _write_json_object_of_size(store.metrics_dir / SUMMARY, 100 * 1000 * 1000)
    try:
        outcome = outcome_of(store.get_run_metrics)
        compared = store.compare_runs("r")
    finally:
        (store.metrics_dir / SUMMARY).unlink()  # pytest keeps recent tmp_paths: don't keep 100 MB in them
    assert outcome.returned is None
    assert outcome.printed == (
        f"[ERROR] Failed to load metrics from {store.metrics_dir / SUMMARY}: "
        f"100000000 bytes is more than the {optimized._MAX_SUMMARY_BYTES}-byte limit for a summary\n"
    )
    assert compared == {"error": "Could not load metrics for run r", "metrics": {}}


@pytest.mark.divergence("summary-read-bounded")
def test_summary_one_byte_over_the_cap_is_parsed_by_the_baseline_and_refused_by_optimized(tmp_path: Path) -> None:
    over_cap = optimized._MAX_SUMMARY_BYTES + 1
    (tmp_path / "r").mkdir()
    _write_json_object_of_size(tmp_path / "r" / SUMMARY, over_cap)

    from_baseline = outcome_of(baseline.MetricsStorage("r", str(tmp_path)).get_run_metrics)
    assert len(from_baseline.returned["padding"]) == over_cap - len('{"padding": ""}')
    assert from_baseline.printed == ""

    from_optimized = outcome_of(optimized.MetricsStorage("r", str(tmp_path)).get_run_metrics)
    assert from_optimized.returned is None
    assert f"{over_cap} bytes is more than the {optimized._MAX_SUMMARY_BYTES}-byte limit" in from_optimized.printed


def _read_in_thread(read: Callable[[], object]) -> tuple[threading.Thread, list[Outcome]]:
    done: list[Outcome] = []
    thread = threading.Thread(target=lambda: done.append(outcome_of(read)), daemon=True)
    thread.start()
    return thread, done


@pytest.mark.divergence("summary-read-bounded")
def test_summary_that_is_a_fifo_blocks_the_baseline_and_is_refused_by_optimized(tmp_path: Path) -> None:
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    fifo = run_dir / SUMMARY
    os.mkfifo(fifo)

    thread, done = _read_in_thread(optimized.MetricsStorage("r", str(tmp_path)).get_run_metrics)
    thread.join(BLOCKED_READ_TIMEOUT_S)
    if thread.is_alive():
        fifo.open("w").close()  # let the stuck open() return before failing
    mode = stat.filemode(os.stat(fifo).st_mode)
    assert done == [Outcome(printed=f"[ERROR] Failed to load metrics from {fifo}: not a regular file (mode {mode})\n")]

    thread, done = _read_in_thread(baseline.MetricsStorage("r", str(tmp_path)).get_run_metrics)
    thread.join(0.2)
    assert thread.is_alive() and done == []  # the baseline waits for a writer that never comes
    with fifo.open("w") as writer:
        writer.write('{"late": true}')
    thread.join(BLOCKED_READ_TIMEOUT_S)
    assert done == [Outcome(returned={"late": True})]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_summary_linked_to_an_endless_device_is_refused(tmp_path: Path) -> None:
    store = optimized.MetricsStorage("r", str(tmp_path))
    (store.metrics_dir / SUMMARY).symlink_to("/dev/zero")
    outcome = outcome_of(store.get_run_metrics)
    assert outcome.returned is None
    assert outcome.printed.endswith(f": not a regular file (mode {stat.filemode(os.stat('/dev/zero').st_mode)})\n")


def test_summary_of_a_6000_satellite_constellation_is_well_under_the_cap(tmp_path: Path) -> None:
    """The cap must never refuse a summary we can imagine writing: every satellite reporting all three types."""
    collector = LatencyCollector()
    for n in range(6000):
        collector.record_fault_detection(f"SAT-{n:05d}", n * 0.1, 12.5 + n % 7)
        collector.record_agent_decision(f"SAT-{n:05d}", n * 0.1, 3.25 + n % 11)
        collector.record_recovery_action(f"SAT-{n:05d}", n * 0.1, 40.125 + n % 13)
    store = optimized.MetricsStorage("r", str(tmp_path))
    saved = store.save_latency_stats(collector)
    assert os.path.getsize(saved["summary"]) * 4 <= optimized._MAX_SUMMARY_BYTES
    assert store.get_run_metrics() == json.loads(Path(saved["summary"]).read_text())


# --- results_dir and trees -----------------------------------------------------------------------


def _same_outcome(call: Callable[[type], object], tmp_path: Path) -> Outcome:
    """The outcome of call for the baseline and for optimized, asserted equal."""
    from_baseline = outcome_of(lambda: call(baseline.MetricsStorage))
    from_optimized = outcome_of(lambda: call(optimized.MetricsStorage))
    assert from_optimized == from_baseline
    return from_optimized


def test_results_dir_that_is_a_file_fails_like_the_baseline(tmp_path: Path) -> None:
    a_file = tmp_path / "results"
    a_file.write_text("not a folder")
    made = _same_outcome(lambda cls: cls("r", str(a_file)), tmp_path)
    assert made.raised == (NotADirectoryError, f"[Errno 20] Not a directory: '{a_file}/r'")
    listed = _same_outcome(lambda cls: cls.get_recent_runs(str(a_file)), tmp_path)
    assert listed.raised == (NotADirectoryError, f"[Errno 20] Not a directory: '{a_file}'")


UNREADABLE = {  # what is made unreadable, its mode, and what listing the runs and reading b-run raise
    "results-dir-mode-000": ("", 0o000, PermissionError, PermissionError),
    "run-dir-mode-000": ("b-run", 0o000, PermissionError, PermissionError),
    "run-dir-not-searchable": ("b-run", 0o600, PermissionError, PermissionError),
    "summary-mode-000": (f"b-run/{SUMMARY}", 0o000, None, None),
}


@unprivileged
@pytest.mark.parametrize(("relative", "mode", "listing_raises", "reading_raises"), UNREADABLE.values(), ids=UNREADABLE)
def test_unreadable_part_of_the_tree_behaves_like_the_baseline(
    tmp_path: Path, relative: str, mode: int, listing_raises: type | None, reading_raises: type | None
) -> None:
    results_dir = tmp_path / "results"
    for run_id in ("a-run", "b-run", "c-run"):
        baseline.MetricsStorage(run_id, str(results_dir)).save_latency_stats(tagged_collector(0, 1, 10))
    (results_dir / relative).chmod(mode)
    try:
        listed = _same_outcome(lambda cls: cls.get_recent_runs(str(results_dir)), tmp_path)
        read = _same_outcome(lambda cls: cls("b-run", str(results_dir)).get_run_metrics(), tmp_path)
    finally:
        (results_dir / relative).chmod(0o755)
    assert (listed.raised or (None,))[0] is listing_raises
    assert (read.raised or (None,))[0] is reading_raises
    if listing_raises is None:
        assert listed.returned == ["c-run", "b-run", "a-run"]
    if reading_raises is None:
        assert read.returned is None
        assert read.printed.startswith(f"[ERROR] Failed to load metrics from {results_dir}/b-run/{SUMMARY}: [Errno 13]")
