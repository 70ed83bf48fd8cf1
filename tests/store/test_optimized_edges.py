"""The optimized store's edges that no comparison of outputs reaches: each was a surviving mutmut mutant.

Grown files, taken temporary names, fsync, the fast path's engagement, the racy window for files whose
mtime alone was set to a whole second, the cap's boundary, and a read-only file under a set-user-id.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from storage import baseline, optimized
from storage.latency import LatencyCollector
from tests.common.call_outcomes import Outcome, outcome_of

REPO_ROOT = Path(__file__).resolve().parents[2]
SUMMARY, CSV = optimized.SUMMARY_NAME, optimized.RAW_NAME
NOBODY = 65534


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    optimized.clear_summary_cache()


def _collector(value: float = 1.0) -> LatencyCollector:
    c = LatencyCollector()
    c.record_fault_detection("SAT-1", 0.0, value)
    c.record_agent_decision("SAT-2", 0.5, value * 2)
    return c


def _files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


# --- reading -------------------------------------------------------------------------------------


def test_a_summary_grown_since_its_stat_is_read_whole(tmp_path: Path) -> None:
    summary = tmp_path / SUMMARY
    summary.write_text('{"a": "' + "x" * 100)
    stale = os.stat(summary)
    with summary.open("a") as f:
        f.write("y" * 5000 + '"}')
    assert optimized._read_text(summary, str(summary), stale) == summary.read_text()


def _side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, act: Callable[[type], Any]
) -> list[tuple[Outcome, list[str]]]:
    """act(store class) for the baseline, then optimized, each in a working directory of its own (so their
    messages name the same relative paths): what it did, and every path it left there."""
    sides = []
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        (tmp_path / cls.__module__).mkdir()
        monkeypatch.chdir(tmp_path / cls.__module__)
        sides.append((outcome_of(lambda cls=cls: act(cls)), sorted(map(str, Path().rglob("*")))))
    return sides


def test_a_folder_at_the_summarys_place_is_reported_as_the_baseline_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def read_a_folder(cls: type) -> Any:
        store = cls("r", "results")
        (store.metrics_dir / SUMMARY).mkdir()
        return store.get_run_metrics()

    from_baseline, from_optimized = _side_by_side(tmp_path, monkeypatch, read_a_folder)
    assert from_optimized == from_baseline
    assert "[Errno 21] Is a directory" in from_baseline[0].printed


@pytest.mark.divergence("summary-read-bounded")
def test_a_summary_exactly_at_the_cap_is_read_and_one_byte_more_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(optimized, "_MAX_SUMMARY_BYTES", 64)
    store = optimized.MetricsStorage("r", str(tmp_path))
    summary = store.metrics_dir / SUMMARY
    at_cap = '{"padding": "' + "x" * (64 - len('{"padding": ""}')) + '"}'
    summary.write_text(at_cap)
    assert outcome_of(lambda: store.get_run_metrics(use_cache=False)).returned == json.loads(at_cap)
    summary.write_text(at_cap + " ")
    refused = outcome_of(lambda: store.get_run_metrics(use_cache=False))
    assert refused.returned is None
    assert refused.printed == (
        f"[ERROR] Failed to load metrics from {summary}: 65 bytes is more than the 64-byte limit for a summary\n"
    )
    from_baseline = outcome_of(baseline.MetricsStorage("r", str(tmp_path)).get_run_metrics)
    assert (from_baseline.returned, from_baseline.printed) == (json.loads(at_cap), "")  # the baseline reads it


def test_a_read_inside_the_racy_window_takes_no_cache_slot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An untrusted entry would never be hit, and would evict trusted ones."""
    monkeypatch.setattr(optimized, "_RACY_WINDOW_NS", 10**18)  # every file is "just written"
    cache = optimized._SummaryCache(4)
    monkeypatch.setattr(optimized, "_SUMMARY_CACHE", cache)
    store = optimized.MetricsStorage("r", str(tmp_path))
    store.save_latency_stats(_collector())
    assert store.get_run_metrics() is not None
    assert cache._entries == {}


def test_a_summary_whose_mtime_alone_is_a_whole_second_is_cached_after_the_short_window(tmp_path: Path) -> None:
    """touch -d, tar and rsync set whole-second mtimes on a fine-grained file system: its ctime stays fine."""
    store = optimized.MetricsStorage("r", str(tmp_path))
    store.save_latency_stats(_collector())
    summary = store.metrics_dir / SUMMARY
    whole_second = (os.stat(summary).st_mtime_ns // 10**9 - 60) * 10**9
    os.utime(summary, ns=(whole_second, whole_second))
    if os.stat(summary).st_ctime_ns % 10**9 == 0:
        pytest.skip("this file system keeps whole-second ctimes: the long window applies, rightly")
    deadline = os.stat(summary).st_ctime_ns + 2 * optimized._RACY_WINDOW_NS
    while optimized.time.time_ns() < deadline:
        optimized.time.sleep(optimized._RACY_WINDOW_NS / 1e9)
    first = store.get_run_metrics()
    assert first is not None
    assert store._cached_metrics == first  # trusted: the short window, not the coarse one's 3 s


# --- saving --------------------------------------------------------------------------------------


@pytest.fixture
def taken(tmp_path: Path) -> tuple[optimized.MetricsStorage, Path]:
    """A store, and a file of someone else's in its run folder, for _temp_name to hand out."""
    store = optimized.MetricsStorage("r", str(tmp_path))
    path = store.metrics_dir / ".taken.tmp"
    path.write_text("someone else's")
    return store, path


def test_a_taken_temporary_name_is_never_opened_and_the_next_one_is_used(
    taken: tuple[optimized.MetricsStorage, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, path = taken
    real_temp_name = optimized._temp_name
    names = iter([str(path)])
    monkeypatch.setattr(optimized, "_temp_name", lambda final_path: next(names, None) or real_temp_name(final_path))
    store.save_latency_stats(_collector())
    assert path.read_text() == "someone else's"
    assert sorted(os.listdir(store.metrics_dir)) == sorted([".taken.tmp", SUMMARY, CSV])


def test_sixteen_taken_temporary_names_fail_the_save_naming_its_file(
    taken: tuple[optimized.MetricsStorage, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, path = taken
    asked: list[str] = []
    monkeypatch.setattr(optimized, "_temp_name", lambda final_path: asked.append(final_path) or str(path))
    outcome = outcome_of(lambda: store.save_latency_stats(_collector()))
    summary = str(store.metrics_dir / SUMMARY)
    assert outcome.raised == (FileExistsError, f"[Errno 17] no free temporary name beside: {summary!r}")
    assert asked == [summary] * 16
    assert _files(store.metrics_dir) == {".taken.tmp": b"someone else's"}


def test_a_save_into_a_run_folder_removed_since_raises_the_baselines_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def save_without_folder(cls: type) -> Any:
        store = cls("r", "results")
        store.metrics_dir.rmdir()
        return store.save_latency_stats(_collector())

    from_baseline, from_optimized = _side_by_side(tmp_path, monkeypatch, save_without_folder)
    assert from_optimized == from_baseline
    assert from_baseline[0].raised == (FileNotFoundError, f"[Errno 2] No such file or directory: 'results/r/{SUMMARY}'")


def test_a_satellite_id_the_csv_cannot_encode_raises_the_baselines_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = _collector()
    for i in range(300):  # the bad row in a later batch, past rows written already
        collector.record_fault_detection("SAT-1", float(i), 1.0)
    collector.record_fault_detection("SAT-\ud800", 1.0, 2.0)
    # The files differ by the declared atomic-save divergence: the baseline leaves a partial CSV, optimized none.
    (raised_by_baseline, _), (raised_by_optimized, _) = _side_by_side(
        tmp_path, monkeypatch, lambda cls: cls("r", "results").save_latency_stats(collector)
    )
    assert raised_by_optimized == raised_by_baseline  # its position counts within the row, as export_csv's does
    assert raised_by_baseline.raised[0] is UnicodeEncodeError


def test_chunks_of_quoted_texts_ints_bools_and_values_for_the_dictwriter_write_the_baselines_csv(
    tmp_path: Path, frozen_clock: str
) -> None:
    """Each 256-row chunk is formatted on its own: short rows of ints and bools (two of them still
    buffered when the next chunk needs the DictWriter), a satellite id that needs quotes, a None timestamp,
    a chunk whose every text needs quotes, and a partial last one."""
    rows = optimized._CSV_CHUNK_ROWS
    collector = LatencyCollector()
    for i in range(4 * rows + 76):
        chunk = i // rows
        satellite = 'SAT,"1"\n' if chunk == 1 else f"SAT-{i % 5}"
        number = i if chunk < 3 else i / 7
        collector.record_fault_detection(satellite, number, True if chunk == 1 else number * 3)
    collector.measurements[2 * rows + 5].timestamp = None
    for m in collector.measurements[3 * rows : 4 * rows]:
        m.metric_type, m.satellite_id = "fault,detection", f'"{m.satellite_id}"'
    written = {}
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        paths = cls("r", str(tmp_path / cls.__module__)).save_latency_stats(collector)
        written[cls] = [Path(p).read_bytes() for p in paths.values()]
    assert written[optimized.MetricsStorage] == written[baseline.MetricsStorage]
    csv_bytes = written[baseline.MetricsStorage][1]
    assert b'"SAT,""1""\n"' in csv_bytes and b'"fault,detection","""SAT-' in csv_bytes  # both quoted chunks ran
    # the chunks before the DictWriter's are still buffered together when it starts
    assert csv_bytes.index(b"\r\n,fault_detection") < optimized._CSV_WRITE_CHARS


def test_measurements_without_a_csv_field_raise_the_baselines_error_for_the_first_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """export_csv reads each row's fields in turn: the first row that lacks one names the error."""
    collector = _collector()
    collector.record_fault_detection("SAT-3", 1.0, 3.0)
    del collector.measurements[1].scenario_time_s  # summarise never reads these: the CSV is the first to
    del collector.measurements[2].timestamp  # read column by column, this one would be named
    (raised_by_baseline, _), (raised_by_optimized, _) = _side_by_side(
        tmp_path, monkeypatch, lambda cls: cls("r", "results").save_latency_stats(collector)
    )
    assert raised_by_optimized == raised_by_baseline
    assert raised_by_baseline.raised[0] is AttributeError


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The path behind every fd that os.fsync is given."""
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd to name an fd's file")
    paths: list[str] = []
    real_fsync = os.fsync

    def recording(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording)
    yield paths


def test_fsync_true_syncs_both_files_then_the_run_folder_and_the_default_syncs_nothing(
    tmp_path: Path, synced: list[str]
) -> None:
    optimized.MetricsStorage("default", str(tmp_path)).save_latency_stats(_collector())
    optimized.MetricsStorage("off", str(tmp_path), fsync=False).save_latency_stats(_collector())
    assert synced == []
    store = optimized.MetricsStorage("on", str(tmp_path), fsync=True)
    store.save_latency_stats(_collector())
    folder = str(store.metrics_dir.resolve())
    assert len(synced) == 3, synced
    assert fnmatch.fnmatch(synced[0], f"{folder}/.{SUMMARY}.*.tmp")
    assert fnmatch.fnmatch(synced[1], f"{folder}/.{CSV}.*.tmp")
    assert synced[2] == folder


def test_a_plain_collectors_save_takes_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen_clock: str
) -> None:
    """The speed-up lives here: summarised in one pass, formatted by plain_json, CSV written from the fd."""
    called: Counter[str] = Counter()
    for name in ("summarise", "plain_json", "_write_csv_fd"):
        real = getattr(optimized, name)
        monkeypatch.setattr(optimized, name, lambda *a, _real=real, _name=name: called.update([_name]) or _real(*a))
    monkeypatch.setattr(optimized, "asdict", lambda m: pytest.fail(f"a plain row went row by row: {m}"))
    collector = _collector()
    for i in range(600):  # three chunks, the last one partial
        collector.record_agent_decision(f"SAT-{i % 7}", i / 3, i * 1.1)
    paths = optimized.MetricsStorage("r", str(tmp_path / "optimized")).save_latency_stats(collector)
    assert called["summarise"] == 1 and called["_write_csv_fd"] == 1 and called["plain_json"] >= 1
    expected = baseline.MetricsStorage("r", str(tmp_path / "baseline")).save_latency_stats(collector)
    assert [Path(p).read_bytes() for p in paths.values()] == [Path(p).read_bytes() for p in expected.values()]


def test_a_collector_whose_measurements_were_cleared_but_not_its_counts_saves_the_baselines_files(
    tmp_path: Path, frozen_clock: str
) -> None:
    collector = _collector()
    collector.measurements.clear()  # reset() would clear both; a caller may clear the list alone
    assert collector._measurement_log and optimized._is_plain_collector(collector)
    written = []
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        cls("r", str(tmp_path / cls.__module__)).save_latency_stats(collector)
        written.append(_files(tmp_path / cls.__module__ / "r"))
    assert written[1] == written[0]
    assert json.loads(written[0][SUMMARY])["measurement_types"] == {}


_CHILD = """
import json, os, sys
from pathlib import Path
from storage import baseline, optimized
from storage.latency import LatencyCollector
NOBODY = int(sys.argv[3])
if sys.argv[2] == "drop":  # real root, effective nobody: as a set-user-id program runs
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(0, NOBODY, 0)
root = Path(sys.argv[1])
results = {}
for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
    folder = root / cls.__module__
    store = cls("r", str(folder))
    summary = store.metrics_dir / optimized.SUMMARY_NAME
    summary.write_text("{}")
    summary.chmod(0o444)
    c = LatencyCollector()
    c.record_fault_detection("SAT-1", 0.0, 1.0)
    try:
        store.save_latency_stats(c)
        raised = None
    except Exception as e:
        raised = [type(e).__name__, str(e).replace(str(folder), "<folder>")]
    results[cls.__module__] = [raised, sorted(os.listdir(store.metrics_dir)), summary.read_text()]
print(json.dumps(results))
"""


def test_a_read_only_summary_fails_the_save_as_the_baselines_write_does_for_the_effective_user(
    tmp_path: Path,
) -> None:
    """os.access must ask for the effective ids: the ones the baseline's open() is checked against."""
    optimized.MetricsStorage("r", str(tmp_path)).save_latency_stats(_collector())  # this process's own check
    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory() as shared:  # under /tmp: tmp_path's parents are private to root
        os.chmod(shared, 0o777)
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, shared, "drop" if as_root else "keep", str(NOBODY)],
            cwd=REPO_ROOT,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            check=True,
        )
    results = json.loads(done.stdout)
    summary_path = f"<folder>/r/{SUMMARY}"
    assert results["storage.baseline"] == [
        ["PermissionError", f"[Errno 13] Permission denied: {summary_path!r}"],
        [SUMMARY],
        "{}",
    ]
    assert results["storage.optimized"] == results["storage.baseline"]


# --- formatting ----------------------------------------------------------------------------------


@pytest.mark.parametrize("other", [b"run-b", 5, None, Path("run-b")], ids=repr)
def test_compare_runs_with_a_run_id_that_is_not_a_str_answers_as_the_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen_clock: str, other: Any
) -> None:
    """Path() / run_id decides: a TypeError for bytes, int or None, a comparison for a Path."""

    def compare(cls: type) -> Any:
        store = cls("run-a")  # the default results_dir: the one the baseline's compare_runs looks in
        store.save_latency_stats(_collector(1.0))
        cls("run-b").save_latency_stats(_collector(2.0))
        return store.compare_runs(other)

    # Files aside: the baseline's compare_runs creates a folder (the compare-runs-own-results-dir divergence).
    outcomes = [outcome for outcome, _ in _side_by_side(tmp_path, monkeypatch, compare)]
    assert outcomes[1] == outcomes[0]
    assert (outcomes[0].raised is None) == isinstance(other, Path)
