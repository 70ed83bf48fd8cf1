"""MetricsStorage as the spec describes it: the baseline pins the original, optimized must agree.

Each test runs against both; where optimized differs on purpose, the test is in
test_divergences.py instead, never here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storage import baseline, optimized
from storage.latency import LatencyCollector, LatencyMeasurement

DEFAULT_DIR = Path("astraguard/hil/results")


@pytest.fixture(params=["baseline", "optimized"])
def store_class(request: pytest.FixtureRequest, frozen_clock: str, in_tmp_cwd: Path) -> type:
    optimized.clear_summary_cache()
    return {"baseline": baseline.MetricsStorage, "optimized": optimized.MetricsStorage}[request.param]


def _collector() -> LatencyCollector:
    c = LatencyCollector()
    for i, sat in enumerate(["SAT-2", "SAT-1", "SAT-2", "SAT-3"]):
        c.record_fault_detection(sat, i * 0.5, 10.0 + i)
        c.record_agent_decision(sat, i * 0.5, 100.0 - i)
    c.record_recovery_action("SAT-1", 9.0, 7.25)
    return c


def _write_summary(results_dir: Path, run_id: str, summary: object) -> None:
    (results_dir / run_id).mkdir(parents=True, exist_ok=True)
    (results_dir / run_id / "latency_summary.json").write_text(json.dumps(summary))


def test_store_creates_run_folder_under_default_results_dir_relative_to_cwd(store_class: type) -> None:
    store = store_class("run-1")
    assert store.run_id == "run-1"
    assert store.metrics_dir == DEFAULT_DIR / "run-1"
    assert (DEFAULT_DIR / "run-1").is_dir()


def test_save_writes_summary_keys_in_order_and_returns_paths(store_class: type, frozen_clock: str) -> None:
    collector = _collector()
    paths = store_class("r", "res").save_latency_stats(collector)
    assert paths == {"summary": "res/r/latency_summary.json", "raw": "res/r/latency_raw.csv"}
    text = Path(paths["summary"]).read_text()
    summary = json.loads(text)
    assert list(summary) == [
        "run_id",
        "timestamp",
        "total_measurements",
        "measurement_types",
        "stats",
        "stats_by_satellite",
    ]
    expected = {
        "run_id": "r",
        "timestamp": frozen_clock,
        "total_measurements": 9,
        "measurement_types": {"fault_detection": 4, "agent_decision": 4, "recovery_action": 1},
        "stats": collector.get_stats(),
        "stats_by_satellite": collector.get_stats_by_satellite(),
    }
    assert text == json.dumps(expected, indent=2, default=str)


def test_save_writes_the_collectors_csv_bytes(store_class: type, tmp_path: Path) -> None:
    collector = _collector()
    paths = store_class("r", "res").save_latency_stats(collector)
    collector.export_csv(str(tmp_path / "reference.csv"))
    assert Path(paths["raw"]).read_bytes() == (tmp_path / "reference.csv").read_bytes()


def test_save_of_empty_collector_writes_empty_sections(store_class: type) -> None:
    paths = store_class("r", "res").save_latency_stats(LatencyCollector())
    summary = json.loads(Path(paths["summary"]).read_text())
    assert summary["total_measurements"] == 0
    assert summary["measurement_types"] == summary["stats"] == summary["stats_by_satellite"] == {}
    assert Path(paths["raw"]).read_text() == "timestamp,metric_type,satellite_id,duration_ms,scenario_time_s\n"


def test_save_counts_direct_appends_in_total_but_not_in_types(store_class: type) -> None:
    collector = _collector()
    collector.measurements.append(LatencyMeasurement(1.0, "manual", "SAT-9", 3.0, 0.0))
    summary = json.loads(Path(store_class("r", "res").save_latency_stats(collector)["summary"]).read_text())
    assert summary["total_measurements"] == 10
    assert "manual" not in summary["measurement_types"]
    assert "manual" in summary["stats"]


def test_save_propagates_an_error_from_the_collector(store_class: type) -> None:
    class FailingStats(LatencyCollector):
        def get_stats(self) -> dict:
            raise ZeroDivisionError("stats broke")

    with pytest.raises(ZeroDivisionError, match="stats broke"):
        store_class("r", "res").save_latency_stats(FailingStats())


def test_save_propagates_an_error_from_export_csv(store_class: type) -> None:
    class FailingExport(LatencyCollector):
        def export_csv(self, filename: str) -> None:
            raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        store_class("r", "res").save_latency_stats(FailingExport())


def test_get_run_metrics_of_missing_summary_is_none_and_silent(
    store_class: type, capsys: pytest.CaptureFixture[str]
) -> None:
    assert store_class("r", "res").get_run_metrics() is None
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "content", [b"{not json", b'{"a": 1', b"\xff\xfe{}", b""], ids=["invalid", "truncated", "not-utf8", "empty"]
)
def test_get_run_metrics_of_corrupt_summary_prints_error_and_is_none(
    store_class: type, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    store = store_class("r", "res")
    (store.metrics_dir / "latency_summary.json").write_bytes(content)
    assert store.get_run_metrics() is None
    assert capsys.readouterr().out.startswith("[ERROR] Failed to load metrics from res/r/latency_summary.json: ")


def test_get_run_metrics_of_summary_that_is_a_folder_prints_error(
    store_class: type, capsys: pytest.CaptureFixture[str]
) -> None:
    store = store_class("r", "res")
    (store.metrics_dir / "latency_summary.json").mkdir()
    assert store.get_run_metrics() is None
    assert "[ERROR] Failed to load metrics from res/r/latency_summary.json" in capsys.readouterr().out


def test_get_run_metrics_returns_a_new_dict_each_call(store_class: type) -> None:
    store = store_class("r", "res")
    store.save_latency_stats(_collector())
    first = store.get_run_metrics()
    first["stats"]["fault_detection"]["mean_ms"] = -1
    first.clear()
    second = store.get_run_metrics()
    assert second is not first
    assert second["stats"]["fault_detection"]["mean_ms"] == 11.5


def test_get_run_metrics_of_json_null_is_none_and_silent(store_class: type, capsys: pytest.CaptureFixture[str]) -> None:
    store = store_class("r", "res")
    (store.metrics_dir / "latency_summary.json").write_text("null")
    assert store.get_run_metrics() is None
    assert capsys.readouterr().out == ""


def test_compare_reports_other_run_missing_first(store_class: type) -> None:
    store = store_class("this", str(DEFAULT_DIR))
    assert store.compare_runs("other") == {"error": "Could not load metrics for run other", "metrics": {}}


def test_compare_reports_this_run_missing(store_class: type) -> None:
    _write_summary(DEFAULT_DIR, "other", {"stats": {}})
    store = store_class("this", str(DEFAULT_DIR))
    assert store.compare_runs("other") == {"error": "Could not load metrics for run this", "metrics": {}}


def test_compare_compares_an_empty_summary_rather_than_calling_it_missing(store_class: type, frozen_clock: str) -> None:
    """`is None`, not truthiness: {} is a loaded summary with no stats (tests/store/test_original_compare_runs.py)."""
    _write_summary(DEFAULT_DIR, "other", {})
    _write_summary(DEFAULT_DIR, "this", {"stats": {}})
    assert store_class("this", str(DEFAULT_DIR)).compare_runs("other") == {
        "run1": "this",
        "run2": "other",
        "timestamp": frozen_clock,
        "metrics": {},
    }


def test_compare_covers_types_present_and_nonempty_in_both(store_class: type, frozen_clock: str) -> None:
    _write_summary(
        DEFAULT_DIR,
        "this",
        {"stats": {"a": {"mean_ms": 5.0, "p95_ms": 9.0}, "b": {"mean_ms": 1.0}, "only_this": {"mean_ms": 1}, "e": {}}},
    )
    _write_summary(
        DEFAULT_DIR,
        "other",
        {"stats": {"a": {"mean_ms": 2.0, "p95_ms": 3.0}, "b": {"p95_ms": 4.0}, "only_other": {"x": 1}, "e": {"x": 1}}},
    )
    result = store_class("this", str(DEFAULT_DIR)).compare_runs("other")
    assert result == {
        "run1": "this",
        "run2": "other",
        "timestamp": frozen_clock,
        "metrics": {
            "a": {"this_mean_ms": 5.0, "other_mean_ms": 2.0, "diff_ms": 3.0, "this_p95_ms": 9.0, "other_p95_ms": 3.0},
            "b": {"this_mean_ms": 1.0, "other_mean_ms": 0, "diff_ms": 1.0, "this_p95_ms": 0, "other_p95_ms": 4.0},
        },
    }


def test_compare_of_saved_runs_uses_their_stats(store_class: type) -> None:
    a, b = _collector(), _collector()
    b.record_fault_detection("SAT-1", 1, 1000.0)
    store_class("a", str(DEFAULT_DIR)).save_latency_stats(a)
    store_class("b", str(DEFAULT_DIR)).save_latency_stats(b)
    metrics = store_class("a", str(DEFAULT_DIR)).compare_runs("b")["metrics"]
    assert (
        metrics["fault_detection"]["diff_ms"]
        == a.get_stats()["fault_detection"]["mean_ms"] - (b.get_stats()["fault_detection"]["mean_ms"])
    )


def test_recent_runs_of_missing_folder_is_empty(store_class: type) -> None:
    assert store_class.get_recent_runs("nowhere") == []


def _tree(root: Path) -> None:
    for name in ["run_b", "run_d", "run_a", "run_c", "Run_Z"]:
        _write_summary(root, name, {})
    (root / "run_e").mkdir()  # no summary
    (root / "run_f.txt").write_text("a plain file")
    (root / "zz_link").symlink_to((root / "run_a").resolve(), target_is_directory=True)
    (root / "zz_dangling").symlink_to((root / "missing").resolve())


def test_recent_runs_are_names_descending_with_summary_only(store_class: type) -> None:
    _tree(Path("res"))
    assert store_class.get_recent_runs("res") == ["zz_link", "run_d", "run_c", "run_b", "run_a", "Run_Z"]


def test_recent_runs_stop_at_limit(store_class: type) -> None:
    _tree(Path("res"))
    assert store_class.get_recent_runs("res", limit=2) == ["zz_link", "run_d"]


@pytest.mark.parametrize("limit", [0, -3])
def test_recent_runs_with_limit_below_one_still_return_the_first(store_class: type, limit: int) -> None:
    _tree(Path("res"))
    assert store_class.get_recent_runs("res", limit=limit) == ["zz_link"]


def test_recent_runs_ignore_modification_time(store_class: type) -> None:
    _tree(Path("res"))
    os.utime("res/run_a/latency_summary.json", (4e9, 4e9))  # newest on disk, oldest by name
    assert store_class.get_recent_runs("res", limit=3) == ["zz_link", "run_d", "run_c"]


def test_recent_runs_count_a_summary_that_is_a_folder(store_class: type) -> None:
    Path("res/run_x/latency_summary.json").mkdir(parents=True)
    assert store_class.get_recent_runs("res") == ["run_x"]


def test_recent_runs_of_a_file_raise_not_a_directory(store_class: type) -> None:
    Path("res").write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        store_class.get_recent_runs("res")


def test_recent_runs_default_folder_is_relative_to_cwd(store_class: type) -> None:
    _write_summary(DEFAULT_DIR, "only", {})
    assert store_class.get_recent_runs() == ["only"]
