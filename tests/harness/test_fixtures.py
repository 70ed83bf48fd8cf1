"""The fixtures are what the issue asks for: seeded, realistic, and built once."""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import pytest

from bench.model import fixtures as fixtures_module
from bench.model.fixtures import SATELLITES, SUMMARY_NAME, Fixtures, build_collector
from storage import LatencyCollector


@pytest.fixture
def scratch(tmp_path: Path) -> Fixtures:
    return Fixtures(seed=7, cache=tmp_path / "cache")


def test_collector_is_the_same_for_the_same_seed() -> None:
    first, second = build_collector(1_000, 3), build_collector(1_000, 3)
    assert [asdict(m) for m in first.measurements] == [asdict(m) for m in second.measurements]


def test_collector_differs_between_seeds() -> None:
    assert build_collector(1_000, 3).get_stats() != build_collector(1_000, 4).get_stats()


def test_collector_is_a_plain_collector_fed_by_record_calls() -> None:
    collector = build_collector(5_000, 1)
    assert type(collector) is LatencyCollector
    assert len(collector) == 5_000
    assert sum(collector.get_summary()["measurement_types"].values()) == 5_000


def test_collector_has_three_metric_types_and_every_satellite() -> None:
    collector = build_collector(1_000, 1)
    assert set(collector.get_stats()) == {"fault_detection", "agent_decision", "recovery_action"}
    assert set(collector.get_stats_by_satellite()) == set(SATELLITES)
    assert len(SATELLITES) >= 5


def test_collector_durations_are_right_skewed() -> None:
    for metric_type, stats in build_collector(10_000, 1).get_stats().items():
        assert stats["mean_ms"] > stats["p50_ms"], metric_type
        assert stats["p99_ms"] > 2 * stats["p50_ms"], metric_type


def _runs(root: Path) -> list[Path]:
    return [entry for entry in root.iterdir() if entry.is_dir()]


def test_tree_has_the_size_asked_and_one_in_seven_runs_without_summary(scratch: Fixtures) -> None:
    runs = _runs(scratch.result_tree(1_000))
    assert len(runs) == 1_000
    assert sum(not (run / SUMMARY_NAME).exists() for run in runs) == 1_000 // 7


def test_tree_holds_plain_files_some_sorting_above_every_run(scratch: Fixtures) -> None:
    root = scratch.result_tree(100)
    plain = [entry.name for entry in root.iterdir() if entry.is_file()]
    newest_run = max(run.name for run in _runs(root))
    assert plain
    assert any(name > newest_run for name in plain)


def test_tree_names_are_not_in_modification_time_order(scratch: Fixtures) -> None:
    summaries = [run / SUMMARY_NAME for run in _runs(scratch.result_tree(1_000)) if (run / SUMMARY_NAME).exists()]
    by_name = sorted(summaries, reverse=True)[:10]
    by_mtime = sorted(summaries, key=lambda path: path.stat().st_mtime, reverse=True)[:10]
    assert by_name != by_mtime


def test_tree_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    def listing(cache: str) -> list[tuple[str, int]]:
        root = Fixtures(seed=7, cache=tmp_path / cache).result_tree(100)
        return sorted((entry.name, entry.stat().st_mtime_ns) for entry in root.iterdir())

    assert listing("one") == listing("two")


def test_tree_is_built_once_and_then_read_from_the_cache(scratch: Fixtures, monkeypatch: pytest.MonkeyPatch) -> None:
    first = scratch.result_tree(100)

    def no_second_build(*args: object) -> None:
        raise AssertionError("the cached tree was built again")

    monkeypatch.setattr(fixtures_module, "_write_tree", no_second_build)
    assert scratch.result_tree(100) == first


def test_a_damaged_cached_tree_is_refused(scratch: Fixtures) -> None:
    root = scratch.result_tree(100)
    (root / "README.txt").unlink()
    with pytest.raises(RuntimeError, match="manifest"):
        scratch.result_tree(100)


def test_a_failed_build_leaves_no_fixture_behind(scratch: Fixtures, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fixtures_module, "_write_tree", broken)
    with pytest.raises(OSError, match="disk full"):
        scratch.result_tree(100)
    assert os.listdir(scratch.cache) == []


def test_saved_runs_are_two_different_runs_of_the_size_asked(scratch: Fixtures, tmp_path: Path) -> None:
    results_dir = tmp_path / "results"
    run_a, run_b = scratch.install_saved_runs(1_000, results_dir)
    summaries = [(results_dir / run / SUMMARY_NAME).read_text() for run in (run_a, run_b)]
    assert run_a != run_b
    assert summaries[0] != summaries[1]
    assert all('"total_measurements": 1000' in text for text in summaries)


def test_a_worker_checks_each_store_once_its_saved_runs_are_old_enough_to_cache_waiting_once(
    scratch: Fixtures, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The optimized store caches a summary only once its inode is 50 ms old: a warm read checked sooner would be
    timed cold on its first calls. Three stores set up in one worker wait for that once, not once each."""
    import time

    from bench.model.operations import RESULTS_DIR
    from bench.runners import interleaved

    real_sleep, real_check = time.sleep, interleaved.check
    slept: list[float] = []
    ages: list[int] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        real_sleep(seconds)

    def check(case: object) -> None:
        real_check(case)  # type: ignore[arg-type]
        summary = next((case.workdir / RESULTS_DIR).glob(f"*/{SUMMARY_NAME}"))  # type: ignore[attr-defined]
        ages.append(time.time_ns() - summary.stat().st_ctime_ns)

    monkeypatch.setattr(fixtures_module.time, "sleep", sleep)
    monkeypatch.setattr(interleaved, "check", check)
    arms = interleaved.Arms(interleaved.Arm("optimized"), reference=interleaved.Arm("optimized"))
    cases = interleaved._prepare_arms("compare_runs[5000]", arms, str(tmp_path), scratch)
    assert len(cases) == len(ages) == 3
    assert min(ages) >= fixtures_module.SETTLE_S * 1e9, ages
    assert len([s for s in slept if s > 0]) == 1 and sum(slept) <= fixtures_module.SETTLE_S, slept
