"""Answers beside speed: whose doing a failed equivalence test shows, and what the gate and the main job's table say
when a store's answers differ from the frozen original's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import storage.baseline
from bench.errors import ExitCode, HarnessError
from bench.gate import answers
from bench.gate.outcome import Outcome
from bench.history import changes, points
from bench.model.answer_record import AnswerRecord, CollectorAnswers
from bench.model.location import Location
from bench.model.stats import RatioInterval
from bench.model.verdict import Verdict
from bench.report import summary
from bench.rule import Band
from bench.runners import equivalence
from bench.runners.interleaved import ProcessTiming, Timings
from bench.stores.snapshot import Snapshot
from tests.common.differential import side_by_side
from tests.common.strategies import DEFAULT_RESULTS_DIR

# --- whose doing a failure is -------------------------------------------------------------------------------

# A pytest JUnit report with one failure of each kind, as the suite's run on a store writes it.
JUNIT = Path(__file__).resolve().parents[1] / "data" / "junit_blame_sample.xml"


@pytest.fixture
def tests_read() -> list[dict[str, Any]]:
    return equivalence.read_junit(JUNIT, "X", "the store")


def test_a_mismatch_is_the_stores_a_collector_mismatch_the_collectors_anything_else_the_harnesss(
    tests_read: list[dict[str, Any]],
) -> None:
    assert [(t["judges"], t.get("blame")) for t in tests_read] == [
        ("store", "store"),
        ("collector", "collector"),
        ("store", "harness"),
        ("store", None),
    ]
    assert equivalence.verdict(tests_read) is equivalence.Equivalence.DIFFERS
    assert equivalence.differing_operations(tests_read) == ["get_run_metrics"]
    assert equivalence.verdict(tests_read, equivalence.Blame.COLLECTOR) is equivalence.Equivalence.DIFFERS


def test_an_error_in_the_harnesss_own_code_is_exit_2_naming_it_never_a_verdict(
    tests_read: list[dict[str, Any]],
) -> None:
    with pytest.raises(HarnessError) as raised:
        equivalence.no_harness_failure(tests_read, "the store")
    assert raised.value.exit_code == ExitCode.USAGE
    message = str(raised.value)
    assert "failed in its own code, not in the store's, so it gives no verdict" in message
    assert "test_stores_answer_like_the_baseline_step_after_step[the store-as-is]: FileNotFoundError: " in message


@pytest.mark.parametrize("run_id", ["..", "../escape"])
def test_another_process_deleting_the_folder_an_odd_run_id_names_is_a_step_like_any_other(run_id: str) -> None:
    """The real original's false "differs": removing "results/.." by that path deleted "results" first,
    then found no path for its last rmdir, inside the baseline's own folder."""
    with side_by_side(storage.baseline.MetricsStorage) as diff:
        pair = diff.create_store(run_id, None)
        assert pair is not None
        diff.delete_folder(pair.folder)
        diff.assert_same_trees()
        assert not (diff.baseline.root / pair.folder).exists()
        assert not (diff.baseline.root / DEFAULT_RESULTS_DIR / run_id).resolve().exists()


# --- what the gate makes of them ------------------------------------------------------------------------------


def _record(differs_in: list[str]) -> AnswerRecord:
    why = {op: f"{op} property: a counterexample" for op in differs_in}
    verdict = "differs" if differs_in else "identical"
    return AnswerRecord(verdict, tuple(differs_in), why, collector=CollectorAnswers("identical"))


def _outcomes() -> list[Outcome]:
    faster = RatioInterval(0.001, 0.0009, 0.0011, 0.975, 6)
    same = RatioInterval(1.0, 0.98, 1.02, 0.975, 6)
    band = Band(1.0, 0.05)
    return [
        Outcome("get_run_metrics_warm[5000]", Verdict.IMPROVED, faster, band, 6),
        Outcome("get_run_metrics_cold[5000]", Verdict.UNCHANGED, same, band, 6),
        Outcome("get_recent_runs[100]", Verdict.UNCHANGED, same, band, 6),
    ]


def test_a_benchmark_of_a_method_whose_answers_differ_reads_answers_differ_and_fails_never_improved() -> None:
    checked = answers.Answers(_record(["get_run_metrics"]), _record([]), allowed=False, collector_changed=False)
    outcomes = answers.apply(_outcomes(), checked)
    assert [o.verdict for o in outcomes] == [Verdict.ANSWERS_DIFFER, Verdict.ANSWERS_DIFFER, Verdict.UNCHANGED]
    assert all(o.fails for o in outcomes[:2]) and not outcomes[2].fails
    why = answers.differing([o.name for o in outcomes], checked)
    assert list(why) == ["get_run_metrics_warm[5000]", "get_run_metrics_cold[5000]"]  # timed once, for information
    assert why["get_run_metrics_warm[5000]"] == (
        "get_run_metrics answers otherwise than the frozen original's: get_run_metrics property: a counterexample; "
        "its ratio is no speed-up"
    )
    assert checked.fail and Verdict.ANSWERS_DIFFER.shown == "ANSWERS DIFFER"


def test_allowed_different_answers_keep_the_speed_verdict_with_the_difference_noted() -> None:
    checked = answers.Answers(_record(["get_run_metrics"]), _record([]), allowed=True, collector_changed=None)
    outcomes = answers.apply(_outcomes(), checked)
    assert [o.verdict for o in outcomes] == [Verdict.IMPROVED, Verdict.UNCHANGED, Verdict.UNCHANGED]
    assert outcomes[0].note.endswith("(allowed)") and not checked.fail
    assert answers.differing([o.name for o in outcomes], checked) == {}  # allowed: judged at full power


def test_the_gate_prints_both_sides_answers_and_whether_the_collector_changed() -> None:
    reference = Snapshot("main", "ab" * 20, Location("s.py", "S"), Location("l.py", "L"), ())
    checked = answers.Answers(_record(["compare_runs"]), _record([]), allowed=False, collector_changed=True)
    text = checked.lines(reference)
    assert text[1] == "  working tree: store differs in compare_runs; collector changed: same output as the original's"
    assert text[2] == "    compare_runs: compare_runs property: a counterexample"
    assert text[3] == f"  at {'ab' * 6}: store identical; collector: same output as the original's"
    assert text[4].endswith("the gate fails")


# --- and the main job's table -----------------------------------------------------------------------------------


def test_the_tables_speed_up_of_a_method_whose_answers_differ_reads_answers_differ_not_met() -> None:
    interval = RatioInterval(1486.6, 1400.0, 1600.0, 0.95, 20)
    row = summary.Row("get_run_metrics_warm[5000]", "proposed", None, interval, 5.0, None, None, None, None, True)
    shipped = summary.Row("get_run_metrics_warm[5000]", "optimized", None, interval, 5.0, None, None, None, None, True)
    table = summary.render([row])
    cells = [cell.strip() for cell in table.split("\n")[2].split("|")]
    assert cells[5] == "answers differ"  # where the target's verdict, ">=5x met", would be
    published = summary.bench_summary([row, shipped], Path("results"), None, table)
    assert [r.verdict for r in published.rows] == ["answers differ", "answers differ"]
    assert [r.fails for r in published.rows] == [False, True]  # the proposal is evidence; a shipped store fails
    assert not published.passed and "get_run_metrics_warm[5000] (optimized: answers differ)" in published.headline


def test_the_committed_runs_answers_come_from_the_equivalence_record_beside_them() -> None:
    differing = summary.differing_by_candidate(summary.results.RESULTS)
    assert differing["optimized"] == set() and differing["deployed"] == set()
    assert {"get_run_metrics", "get_recent_runs", "save_latency_stats"} <= differing["proposed"]


def _point(sha: str, previous: str | None, equivalence: AnswerRecord | None, steps: dict[str, float]) -> points.Point:
    """A measured point whose processes time each benchmark at `steps[name]` of the commit before it."""
    point = points.Point(
        commit=sha,
        date="2026-01-01",
        subject=sha[:4],
        machine={"id": "0" * 10},
        provenance={},
        settings={"processes": 4, "rounds": 6, "looks": [4, 8, 12]},
        store={},
        generation=1 if previous is None else 2,
        previous=previous,
        equivalence=equivalence,
    )
    for name, step in steps.items():
        noise = (1.0, 1.002, 0.998, 1.001)
        processes = tuple(ProcessTiming(0.5 * step * n, 1.0, None if previous is None else 0.5) for n in noise)
        points.record_timings(point, Timings(name, processes, 6, 0))
    return point


def test_a_change_point_where_the_answers_differ_says_it_is_no_speed_up() -> None:
    steps = {"compare_runs[5000]": 0.54, "get_recent_runs[100]": 0.54}
    history = [
        _point("b" * 40, None, _record([]), dict.fromkeys(steps, 1.0)),
        _point("c" * 40, "b" * 40, _record(["compare_runs"]), steps),
    ]
    found = {cp.benchmark: cp for cp in changes.change_points(history, list(steps))}
    assert found["compare_runs[5000]"].answers_differ and not found["get_recent_runs[100]"].answers_differ
    assert found["compare_runs[5000]"].text().endswith("; its answers differ from the original's there: no speed-up")
    assert found["get_recent_runs[100]"].text().startswith("-46.0% [")
    assert not found["get_recent_runs[100]"].slower
