"""Snapshot tests of what people read: the gate's and history's terminal text and Markdown on fixed inputs, compared
with committed expected output (tests/data/snapshots/), so a change to them shows in review as a diff.
METRICS_STORE_BENCH_UPDATE_SNAPSHOTS=1 rewrites the expected files from what the code prints now."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.gate.answers import Answers
from bench.gate.config import load_config
from bench.gate.counts import judge_counts
from bench.gate.outcome import Outcome
from bench.gate.result import Counted, GateResult
from bench.gate.why import explain
from bench.history import walk
from bench.history.points import load_points
from bench.jobs.site_history import write_history
from bench.model.answer_record import AnswerRecord, CollectorAnswers
from bench.model.stats import RatioInterval
from bench.model.verdict import Verdict
from bench.report import gate_view, history_view
from bench.report.publish import markdown
from bench.rule import Band
from bench.runners.instructions import Count, Pair
from tests.common.profiles import READ, profile, reading_and_cached

SNAPSHOTS = Path(__file__).resolve().parents[1] / "data" / "snapshots"
UPDATE = os.environ.get("METRICS_STORE_BENCH_UPDATE_SNAPSHOTS") == "1"
REFERENCE = "384ceb3f950f"
COLD, WARM = "get_run_metrics_cold[5000]", "get_run_metrics_warm[5000]"


def _matches(name: str, text: str) -> None:
    expected = SNAPSHOTS / name
    if UPDATE:
        expected.write_text(text)
    assert expected.is_file(), f"no {expected}: run with METRICS_STORE_BENCH_UPDATE_SNAPSHOTS=1 and review it"
    assert text == expected.read_text()


def _record(differs: list[str]) -> AnswerRecord:
    why = {op: f"{op} property: Mismatch: MetricsStorage('run-a', None).{op}(): ['total']: 2 != 1" for op in differs}
    verdict = "differs" if differs else "identical"
    return AnswerRecord(verdict, tuple(differs), why, collector=CollectorAnswers("identical"))


def _outcome(name: str, verdict: Verdict, ratio: float, processes: int, informational: bool = False) -> Outcome:
    interval = RatioInterval(ratio, ratio * 0.99, ratio * 1.01, 0.95 if informational else 0.9944, processes)
    band = None if informational else Band(1.0, 0.05)
    return Outcome(name, verdict, interval, band, processes, informational=informational)


def stale_cache_gate() -> GateResult:
    """The application's stale-cache commit's gate, in the shape it prints: 3 benchmarks whose answers differ."""
    outcomes = [
        _outcome("save_latency_stats[1000]", Verdict.UNCHANGED, 0.9998, 16),
        _outcome("get_run_metrics_cold[5000]", Verdict.ANSWERS_DIFFER, 0.9915, 3, informational=True),
        _outcome("get_run_metrics_warm[5000]", Verdict.ANSWERS_DIFFER, 0.0009, 3, informational=True),
        _outcome("compare_runs[5000]", Verdict.ANSWERS_DIFFER, 0.5411, 3, informational=True),
        _outcome("get_recent_runs[1000]", Verdict.INCONCLUSIVE, 1.0345, 24),
    ]
    config = load_config()
    pairs = {
        "save_latency_stats[1000]": Pair(
            Count(111_911_593, 25.0, {"openat": 2.0}), Count(111_928_908, 25.0, {"openat": 2.0})
        ),
        "get_recent_runs[1000]": Pair(
            Count(116_800_000, 37.0, {"newfstatat": 32.0}), Count(115_398_249, 36.0, {"newfstatat": 31.0})
        ),
    }
    counted = Counted([judge_counts(name, pair, config) for name, pair in pairs.items()], REFERENCE, config)
    cold_before = profile(COLD, {READ: (1.0, {})})
    answers = Answers(_record(["get_run_metrics", "compare_runs"]), _record([]), False, False, REFERENCE)
    return GateResult(
        "against",
        f"working tree against HEAD~1 ({REFERENCE})",
        outcomes,
        ["(the long form of every verdict: --verbose)"],
        "rule: regressed when ...",
        {"compared": f"working tree / {REFERENCE}"},
        61.0,
        "Each ratio is working tree / 384ceb3f950f.",
        answers,
        [],
        counted,
        ["timed once (3 processes) and not counted, as their answers differ"],
        [
            explain(COLD, profile(COLD, {READ: (1.0, {}), "builtins.getattr": (1.0, {READ: 1.0})}), cold_before, None),
            *(explain(name, *reading_and_cached(name), None) for name in (WARM, "compare_runs[5000]")),
        ],
    )


def test_the_gates_text_is_a_table_a_section_per_differing_method_and_the_counts_that_changed() -> None:
    text = gate_view.plain(stale_cache_gate())
    assert len(text) <= 30 and max(len(line) for line in text[:-1]) <= gate_view.WIDTH
    assert not any(line.startswith("timed once") for line in text)  # the answers section says it once
    assert text[-1].startswith("3 of 5 benchmarks fail")  # the headline, whole, stays the last line
    assert "counts grew in get_recent_runs[1000]" in text[-1]
    # The diff's head and first cause, once per operation whose calls changed alike.
    # One diff per method: the read that reaches the disk shown, the cold read's other change named for --verbose.
    at = text.index(
        "why get_run_metrics_warm[5000] (cProfile, 5 calls a side; exact counts; "
        "get_run_metrics_cold[5000] in --verbose):"
    )
    assert text[at + 1 : at + 3] == [
        "  io.open 1 -> 0 calls/call",
        "    ← open (pathlib.py:1036) ← read_text (pathlib.py:1053) ← get_run_metrics (storage.py:45)",
    ]
    _matches("gate.txt", "\n".join(text) + "\n")


def test_the_gates_markdown_folds_each_counterexample_once() -> None:
    summary = gate_view.summary_of(stale_cache_gate(), verbose_text=["(verbose)"])
    text = markdown(summary)
    assert text.count("<details><summary>answers differ in get_run_metrics") == 1
    assert "<details><summary>why get_run_metrics_warm[5000]: io.open 1 -> 0 calls/call</summary>" in text
    _matches("gate.md", text + "\n")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> walk.HistoryResult:
    folder = tmp_path_factory.mktemp("points")
    write_history(folder, commits=13, machines=1, benchmarks=("save_latency_stats[1000]", "get_recent_runs[1000]"))
    points = sorted(load_points(folder), key=lambda p: p.generation or 0)
    record = points[0].store
    return walk.result_of(points, ["save_latency_stats[1000]", "get_recent_runs[1000]"], "storage.py", record, None)


def test_historys_text_is_a_row_per_commit_then_each_change_said_once(history: walk.HistoryResult) -> None:
    text = history_view.plain(history)
    assert len(text) <= 40 and max(len(line) for line in text) <= history_view.WIDTH
    assert [cp.benchmark for cp in history.change_points] == ["get_recent_runs[1000]"]
    _matches("history.txt", "\n".join(text) + "\n")


def test_historys_markdown(history: walk.HistoryResult) -> None:
    _matches("history.md", markdown(history_view.summary_of(history)) + "\n")
