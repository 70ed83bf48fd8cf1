"""What optimized adds: a cache that is never stale or shared, and a fast path only where it is exact."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from storage import baseline, optimized
from storage.latency import LatencyCollector, LatencyMeasurement

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    optimized.clear_summary_cache()


@pytest.fixture
def trusting_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust a cached entry at once, as for a file older than the racy window."""
    monkeypatch.setattr(optimized, "_RACY_WINDOW_NS", 0)


@pytest.fixture
def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every read of a summary from disk goes through _read_text: count them."""
    reads: list[Path] = []
    real_read_text = optimized._read_text

    def counting(summary_path: Path, path: str, st: os.stat_result) -> str:
        reads.append(summary_path)
        return real_read_text(summary_path, path, st)

    monkeypatch.setattr(optimized, "_read_text", counting)
    return reads


def _collector(value: float) -> LatencyCollector:
    c = LatencyCollector()
    c.record_fault_detection("SAT-1", 0.0, value)
    return c


def test_warm_read_is_served_from_cache(tmp_path: Path, trusting_cache: None, counted_reads: list[Path]) -> None:
    store = optimized.MetricsStorage("r", str(tmp_path))
    store.save_latency_stats(_collector(1.0))
    assert store.get_run_metrics() == store.get_run_metrics()
    assert len(counted_reads) == 1


def test_use_cache_false_always_reads_the_file(tmp_path: Path, trusting_cache: None, counted_reads: list[Path]) -> None:
    store = optimized.MetricsStorage("r", str(tmp_path))
    store.save_latency_stats(_collector(1.0))
    store.get_run_metrics()
    store.get_run_metrics(use_cache=False)
    store.get_run_metrics(use_cache=False)
    assert len(counted_reads) == 3


def test_cached_copy_is_not_shared_with_callers(tmp_path: Path, trusting_cache: None) -> None:
    store = optimized.MetricsStorage("r", str(tmp_path))
    store.save_latency_stats(_collector(1.0))
    first = store.get_run_metrics()
    first["stats"]["fault_detection"]["mean_ms"] = 99.0
    second = store.get_run_metrics()
    second["stats"].clear()
    assert store.get_run_metrics()["stats"]["fault_detection"]["mean_ms"] == 1.0


def test_save_by_another_instance_is_seen_next_call(tmp_path: Path, trusting_cache: None) -> None:
    reader = optimized.MetricsStorage("r", str(tmp_path))
    optimized.MetricsStorage("r", str(tmp_path)).save_latency_stats(_collector(1.0))
    assert reader.get_run_metrics()["stats"]["fault_detection"]["mean_ms"] == 1.0
    optimized.MetricsStorage("r", str(tmp_path)).save_latency_stats(_collector(2.0))
    assert reader.get_run_metrics()["stats"]["fault_detection"]["mean_ms"] == 2.0


def test_write_by_another_process_is_seen_next_call(tmp_path: Path, trusting_cache: None) -> None:
    reader = optimized.MetricsStorage("r", str(tmp_path))
    reader.save_latency_stats(_collector(1.0))
    assert reader.get_run_metrics()["stats"]["fault_detection"]["mean_ms"] == 1.0
    writer = (
        "import sys; from storage.baseline import MetricsStorage; from storage.latency import LatencyCollector\n"
        "c = LatencyCollector(); c.record_fault_detection('SAT-1', 0.0, 7.0)\n"
        "MetricsStorage('r', sys.argv[1]).save_latency_stats(c)\n"
    )
    subprocess.run([sys.executable, "-c", writer, str(tmp_path)], check=True, cwd=REPO_ROOT)
    assert reader.get_run_metrics()["stats"]["fault_detection"]["mean_ms"] == 7.0


def test_same_size_rewrite_in_the_same_clock_tick_is_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If size, inode and times all stayed equal, only the racy window can tell: prove it does."""
    monkeypatch.setattr(optimized, "_signature", lambda st: b"same")  # every file looks unchanged
    store = optimized.MetricsStorage("r", str(tmp_path))
    summary = store.metrics_dir / "latency_summary.json"
    summary.write_text('{"v": 1}')
    assert store.get_run_metrics() == {"v": 1}
    summary.write_text('{"v": 2}')  # in place, same size, just now
    assert store.get_run_metrics() == {"v": 2}


def test_entry_is_trusted_only_once_the_file_is_older_than_the_racy_window(tmp_path: Path) -> None:
    summary = tmp_path / "s.json"
    summary.write_text("{}")
    st = os.stat(summary)
    assert not optimized._is_trusted(st, st.st_ctime_ns)
    assert optimized._is_trusted(st, st.st_ctime_ns + optimized._RACY_WINDOW_NS + 1)


def test_deleted_summary_is_none_after_being_cached(tmp_path: Path, trusting_cache: None) -> None:
    store = optimized.MetricsStorage("r", str(tmp_path))
    store.save_latency_stats(_collector(1.0))
    assert store.get_run_metrics() is not None
    (store.metrics_dir / "latency_summary.json").unlink()
    assert store.get_run_metrics() is None


def test_repeated_compare_reads_each_unchanged_summary_once(
    tmp_path: Path, trusting_cache: None, counted_reads: list[Path]
) -> None:
    optimized.MetricsStorage("a", str(tmp_path)).save_latency_stats(_collector(1.0))
    optimized.MetricsStorage("b", str(tmp_path)).save_latency_stats(_collector(3.0))
    store = optimized.MetricsStorage("a", str(tmp_path))
    results = [store.compare_runs("b") for _ in range(5)]
    assert all(r["metrics"]["fault_detection"]["diff_ms"] == -2.0 for r in results)
    assert len(counted_reads) == 2


def test_compare_runs_between_cached_runs_copies_no_summary_once_their_views_exist(
    tmp_path: Path, trusting_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The compare fast path engages: a view per cached summary, made once, then read without a copy."""
    optimized.MetricsStorage("a", str(tmp_path)).save_latency_stats(_collector(1.0))
    optimized.MetricsStorage("b", str(tmp_path)).save_latency_stats(_collector(3.0))
    store = optimized.MetricsStorage("a", str(tmp_path))
    store.get_run_metrics()
    optimized.MetricsStorage("b", str(tmp_path)).get_run_metrics()  # both cached now
    first = store.compare_runs("b")  # makes each run's view
    copies: list[bytes] = []
    real_loads = optimized.marshal.loads
    monkeypatch.setattr(optimized.marshal, "loads", lambda blob: copies.append(blob) or real_loads(blob))
    monkeypatch.setattr(optimized.json, "loads", lambda *a, **k: pytest.fail("compare_runs parsed a summary"))
    again = store.compare_runs("b")
    assert again["metrics"] == first["metrics"] and again["metrics"]["fault_detection"]["diff_ms"] == -2.0
    assert copies == []  # neither summary was copied: both answers came from the views


def test_a_fresh_summary_cache_stores_finds_drops_and_evicts_its_oldest_entry(tmp_path: Path) -> None:
    """The process's cache is built at import; a fresh one shows its parts on their own."""
    cache = optimized._SummaryCache(max_entries=2)
    paths = [str(tmp_path / name) for name in ("a", "b", "c")]
    for path in paths:
        Path(path).write_text('{"stats": {"t": {"mean_ms": 1.0, "p95_ms": 2.0}}}')
    stats = {path: os.stat(path) for path in paths}
    for path in paths[:2]:
        cache.store(path, optimized._signature(stats[path]), Path(path).read_text())
    assert cache.lookup(paths[0], stats[paths[0]]) == {"stats": {"t": {"mean_ms": 1.0, "p95_ms": 2.0}}}
    assert cache.lookup_view(paths[1], stats[paths[1]]) == optimized._CompareView({"t": (1.0, 2.0)})
    cache.store(paths[2], optimized._signature(stats[paths[2]]), Path(paths[2]).read_text())  # a third: evicts
    assert cache.lookup(paths[0], stats[paths[0]]) is None  # the oldest entry went
    assert cache.lookup(paths[1], stats[paths[1]]) is not None and cache.lookup(paths[2], stats[paths[2]]) is not None
    cache.store(paths[2], optimized._signature(stats[paths[2]]), Path(paths[2]).read_text())  # replaced, no eviction
    assert cache.lookup(paths[1], stats[paths[1]]) is not None
    cache.drop(paths[1])
    cache.drop(paths[1])  # dropping what is not there is no error
    assert cache.lookup(paths[1], stats[paths[1]]) is None
    cache.clear()
    assert cache.lookup(paths[2], stats[paths[2]]) is None


@dataclasses.dataclass
class _TaggedMeasurement(LatencyMeasurement):
    tag: str = "extra"  # a field export_csv's DictWriter has no column for


class _DuckMeasurement(NamedTuple):  # LatencyMeasurement's attributes, but no dataclass
    timestamp: float
    metric_type: str
    satellite_id: str
    duration_ms: float
    scenario_time_s: float


@pytest.mark.parametrize("kind", [_TaggedMeasurement, _DuckMeasurement], ids=["subclass-with-a-field", "duck"])
def test_a_measurement_that_is_not_exactly_a_latency_measurement_fails_the_save_as_the_baselines_does(
    tmp_path: Path, kind: type
) -> None:
    """The column-wise CSV is asdict()'s only for LatencyMeasurement itself: others go through DictWriter."""
    raised = []
    for module in (baseline, optimized):
        collector = LatencyCollector()
        collector.record_fault_detection("SAT-1", 0.0, 1.0)
        collector.measurements.append(kind(1.0, "fault_detection", "SAT-2", 2.0, 0.5))
        with pytest.raises(Exception) as error:
            module.MetricsStorage("run", str(tmp_path / module.__name__)).save_latency_stats(collector)
        raised.append((type(error.value), str(error.value)))
    assert raised[0] == raised[1]


def test_a_long_csv_written_in_several_batches_with_a_row_by_row_chunk_is_the_baselines(
    tmp_path: Path, frozen_clock: str
) -> None:
    """Thousands of rows: the column-wise chunks are flushed in batches, and one chunk (an odd satellite id)
    goes row by row between them; the bytes are still export_csv's."""
    recorded = LatencyCollector()
    for n in range(3000):
        recorded.record_fault_detection(f"SAT-{n % 7}", n * 0.25, 1.0 + n / 8)
    recorded.measurements[2000] = LatencyMeasurement(2000.5, "fault_detection", None, 3.0, 1.5)  # type: ignore[arg-type]
    saved = {}
    for module in (baseline, optimized):
        collector = copy.deepcopy(recorded)  # the same timestamps for both
        paths = module.MetricsStorage("run", str(tmp_path / module.__name__)).save_latency_stats(collector)
        saved[module] = {kind: Path(path).read_bytes() for kind, path in paths.items()}
    assert saved[optimized] == saved[baseline]
    assert saved[baseline]["raw"].count(b"\r\n") == 3001


def test_a_list_where_the_mean_belongs_raises_the_baselines_type_error_from_the_cache_too(
    tmp_path: Path, trusting_cache: None
) -> None:
    for run_id, mean in (("a", [1.0]), ("b", [2.0])):
        folder = tmp_path / run_id
        folder.mkdir()
        (folder / "latency_summary.json").write_text(json.dumps({"stats": {"t": {"mean_ms": mean, "p95_ms": 1.0}}}))
    store = optimized.MetricsStorage("a", str(tmp_path))
    store.get_run_metrics()
    optimized.MetricsStorage("b", str(tmp_path)).get_run_metrics()
    with pytest.raises(TypeError):  # the baseline's own: [1.0] - [2.0]
        store.compare_runs("b")
    assert baseline.MetricsStorage("a", str(tmp_path)).get_run_metrics()["stats"]["t"]["mean_ms"] == [1.0]


class _OverridesStats(LatencyCollector):
    def get_stats(self) -> dict:
        return {"custom": {"count": 1}}


class _OverridesSummary(LatencyCollector):
    def get_summary(self) -> dict:
        summary = super().get_summary()
        summary["stats_by_satellite"] = {"overridden": True}
        return summary


class _OverridesExport(LatencyCollector):
    def export_csv(self, filename: str) -> None:
        Path(filename).write_text("custom csv\n")


def _patched_instance() -> LatencyCollector:
    c = LatencyCollector()
    c.get_summary = lambda: {"measurement_types": {"patched": 1}}  # type: ignore[method-assign]
    return c


def _odd_values() -> LatencyCollector:
    c = LatencyCollector()
    c.record_agent_decision("SAT-1", None, 3)  # type: ignore[arg-type]
    c.measurements.append(LatencyMeasurement([1, 2], "agent_decision", "SAT-2", 2.5, {"k": 1}))  # type: ignore[arg-type]
    c.measurements.append(LatencyMeasurement(True, "agent_decision", "SAT-2", 1, 0.5))
    return c


@pytest.mark.parametrize(
    "make_collector",
    [_OverridesStats, _OverridesSummary, _OverridesExport, _patched_instance, _odd_values],
    ids=["get_stats", "get_summary", "export_csv", "patched-instance", "non-float-values"],
)
def test_collectors_off_the_fast_path_get_exactly_the_baselines_files(
    tmp_path: Path, frozen_clock: str, make_collector: type
) -> None:
    collector = make_collector()
    for i in range(300):  # more than one formatting chunk
        collector.record_recovery_action(f"SAT-{i % 7}", i * 0.25, 1.0 / (i + 1))
    written = {}
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        paths = cls("r", str(tmp_path / cls.__module__)).save_latency_stats(collector)
        written[cls] = {kind: Path(path).read_bytes() for kind, path in paths.items()}
    assert written[optimized.MetricsStorage] == written[baseline.MetricsStorage]


def test_fast_path_falls_back_for_a_collector_class_patched_at_runtime(
    tmp_path: Path, frozen_clock: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(LatencyCollector, "get_stats", lambda self: {"patched": {}})
    collector = _collector(1.0)
    optimized.MetricsStorage("r", str(tmp_path)).save_latency_stats(collector)
    assert json.loads((tmp_path / "r" / "latency_summary.json").read_text())["stats"] == {"patched": {}}


def test_fast_path_is_taken_for_a_plain_collector() -> None:
    assert optimized._is_plain_collector(_collector(1.0))
    assert not optimized._is_plain_collector(_OverridesStats())
    assert not optimized._is_plain_collector(_patched_instance())


def test_saved_files_have_the_same_permissions_as_the_baselines(tmp_path: Path) -> None:
    modes = {}
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        paths = cls("r", str(tmp_path / cls.__module__)).save_latency_stats(_collector(1.0))
        modes[cls] = [os.stat(p).st_mode for p in paths.values()]
    assert modes[optimized.MetricsStorage] == modes[baseline.MetricsStorage]


def test_fsync_option_saves_the_same_bytes(tmp_path: Path, frozen_clock: str) -> None:
    collector = _collector(2.0)
    written = []
    for fsync in (False, True):
        paths = optimized.MetricsStorage("r", str(tmp_path / str(fsync)), fsync=fsync).save_latency_stats(collector)
        written.append([Path(p).read_bytes() for p in paths.values()])
    assert written[0] == written[1]


def test_cache_survives_a_file_older_than_the_window_without_rereading(
    tmp_path: Path, counted_reads: list[Path]
) -> None:
    """With the real window: once the file is older than it, reads come from the cache."""
    store = optimized.MetricsStorage("r", str(tmp_path))
    store.save_latency_stats(_collector(1.0))
    time.sleep(optimized._RACY_WINDOW_NS / 1e9 * 2)
    store.get_run_metrics()  # read: the file is now old enough to be trusted
    store.get_run_metrics()
    store.get_run_metrics()
    assert len(counted_reads) == 1


def _outcome_of(read: object) -> tuple[str, str]:
    try:
        return ("text", read())  # type: ignore[operator]
    except Exception as e:
        return (type(e).__name__, str(e))


@pytest.mark.parametrize(
    "content",
    [b'{"a": 1}\r\n', b'{\r"a":\r1}', b"\xef\xbb\xbf{}", b"\xff\xfe{}", b'{"caf\xc3\xa9": "\xe2\x82\xac"}', b""],
    ids=["crlf", "lone-cr", "bom", "not-utf8", "utf8", "empty"],
)
def test_fast_read_gives_read_texts_text_and_errors(tmp_path: Path, content: bytes) -> None:
    summary = tmp_path / "latency_summary.json"
    summary.write_bytes(content)
    fast = _outcome_of(lambda: optimized._read_text(summary, str(summary), os.stat(summary)))
    assert fast == _outcome_of(summary.read_text)


def test_fast_read_of_a_folder_raises_what_read_text_raises(tmp_path: Path) -> None:
    folder = tmp_path / "latency_summary.json"
    folder.mkdir()
    fast = _outcome_of(lambda: optimized._read_text(folder, str(folder), os.stat(folder)))
    assert fast == _outcome_of(folder.read_text)
    assert fast[0] == "IsADirectoryError"


def test_fast_read_of_a_file_gone_since_its_stat_raises_what_read_text_raises(tmp_path: Path) -> None:
    summary = tmp_path / "latency_summary.json"
    summary.write_text("{}")
    stale = os.stat(summary)
    summary.unlink()
    fast = _outcome_of(lambda: optimized._read_text(summary, str(summary), stale))
    assert fast == _outcome_of(summary.read_text)
    assert fast[0] == "FileNotFoundError"
