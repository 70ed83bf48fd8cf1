"""The perf gate decides correctly, refuses meaningless comparisons, and can fire.

The last two tests run the real gate on the smallest benchmark: a planted 2x regression must fail
and the unchanged store must pass, so CI proves on every run that the gate is not blind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.errors import ExitCode, UsageError
from bench.gate.config import load_config
from bench.gate.planted import planted_class
from bench.gate.saved import SAVED_RATIOS, commit_of_measured_store, load_saved, provenance, rebaseline, tolerances
from bench.gate.timed import DEFAULT_ROUNDS
from bench.model.fixtures import DEFAULT_SEED, Fixtures
from bench.model.operations import case_name, cases
from bench.model.stats import RatioInterval
from bench.model.verdict import Verdict
from bench.rule import Band, Design, detectable_slowdown, settle
from bench.runners.interleaved import Arm, Arms, Engine, round_order
from storage import optimized

pytestmark = pytest.mark.timed  # asserts timing jobs' verdicts: run alone (nox -s tests)

REPO_ROOT = Path(__file__).resolve().parents[2]
SMALLEST = "get_recent_runs[100]"
SAVED = SAVED_RATIOS


def _interval(low: float, high: float) -> RatioInterval:
    return RatioInterval((low + high) / 2, low, high, 0.95, 6)


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (1.11, 1.30, Verdict.REGRESSED),  # all of it above 1.0 * (1 + 10%)
        (0.70, 0.89, Verdict.IMPROVED),  # all of it below 1.0 * (1 - 10%)
        (0.95, 1.05, Verdict.UNCHANGED),  # inside the band
        (1.05, 1.20, Verdict.INCONCLUSIVE),  # across the upper limit
        (0.80, 1.00, Verdict.INCONCLUSIVE),  # across the lower limit
    ],
)
def test_verdict_follows_the_interval_against_the_tolerance_band(low: float, high: float, verdict: Verdict) -> None:
    assert settle(_interval(low, high), Band(1.0, 0.10), two_sided=True) is verdict


def test_only_a_regression_a_missing_or_unsaved_benchmark_or_different_answers_fail() -> None:
    assert {v for v in Verdict if v.fails} == {
        Verdict.REGRESSED,
        Verdict.MISSING,
        Verdict.UNSAVED,
        Verdict.ANSWERS_DIFFER,
    }


@pytest.mark.parametrize("arms", [2, 3])
def test_each_arm_takes_each_position_equally_often(arms: int) -> None:
    cycle = 2 * arms if arms % 2 else arms
    orders = [round_order(arms, r) for r in range(cycle)]
    for position in range(arms):
        assert sorted(order[position] for order in orders) == sorted(list(range(arms)) * (cycle // arms))


def test_three_arms_follow_each_other_arm_equally_often() -> None:
    orders = [round_order(3, r) for r in range(6)]
    follows = [(order[i], order[i + 1]) for order in orders for i in range(2)]
    assert {pair: follows.count(pair) for pair in follows} == {(a, b): 2 for a in range(3) for b in range(3) if a != b}


def test_two_arms_alternate_as_the_saved_ratios_were_measured() -> None:
    assert [round_order(2, r) for r in range(4)] == [[0, 1], [1, 0], [0, 1], [1, 0]]


def test_smallest_detectable_slowdown_grows_with_the_lower_half_of_the_interval() -> None:
    band = Band(1.0, 0.05)
    tight = detectable_slowdown(RatioInterval(1.0, 0.99, 1.01, 0.95, 6), band)
    loose = detectable_slowdown(RatioInterval(1.0, 0.90, 1.10, 0.95, 6), band)
    assert tight == pytest.approx(1.05 / 0.99 - 1)
    assert loose == pytest.approx(1.05 / 0.90 - 1)


def test_the_detectable_slowdown_against_a_saved_ratio_is_relative_to_that_ratio() -> None:
    """A saved listing ratio of 0.22: the table once read "+-76.1%" there, the bounds' distance from 1."""
    saved = detectable_slowdown(RatioInterval(0.2475, 0.2385, 0.2570, 0.95, 3), Band(0.2194, 0.05))
    assert saved == pytest.approx(1.05 * 0.2475 / 0.2385 - 1)
    assert saved == pytest.approx(
        detectable_slowdown(RatioInterval(1.0, 0.2385 / 0.2475, 1.1, 0.95, 3), Band(1.0, 0.05))
    )


def test_committed_decision_rule_is_read_from_pyproject() -> None:
    config = load_config()
    assert 0 < config.false_alarm_rate < 1
    # The rule shares the configured rate out over the tests (one look, one-sided here): 9 benchmarks, a ninth each.
    assert Design((8,), config.false_alarm_rate).level(9) == pytest.approx(config.false_alarm_rate / 9)
    assert all(0 < config.minimum_effect(case_name(op, size)) < 1 for op, size in cases())
    # A planted +2% must fail the instruction check; the save's real +0.70% (no wall-clock effect) must pass.
    assert 0.007 < config.instruction_tolerance < 0.02
    assert {"brk", "mmap", "futex"} <= set(config.syscall_wandering) and "fsync" not in config.syscall_wandering


_RULE = "[tool.bench.gate]\nfalse_alarm_rate = 0.05\nminimum_effect = {effect}\ninstruction_tolerance = 0.005\n"


@pytest.mark.parametrize(
    ("effect", "more", "refusal"),
    [
        (
            "0.05",
            'syscall_wandering = "brk"\nsyscall_wandering_tolerance = 1.0\n',
            r"syscall_wandering = 'brk'.*a list",
        ),
        (
            "0.05",
            'syscall_wandering = ["brk"]\nsyscall_wandering_tolerance = 1.0\n'
            '[tool.bench.gate.minimum_effect_per_benchmark]\n"no_such[1]" = 0.1\n',
            r"names no benchmark: \['no_such\[1\]'\]",
        ),
        ("5.0", 'syscall_wandering = ["brk"]\nsyscall_wandering_tolerance = 1.0\n', r"minimum_effect = 5\.0"),
        ("0.05", 'syscall_wandering = ["brk"]\nsyscall_wandering_tolerance = -1\n', r"tolerance = -1 .*calls per call"),
    ],
)
def test_a_bad_decision_rule_is_refused_naming_the_setting(
    tmp_path: Path, effect: str, more: str, refusal: str
) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(_RULE.format(effect=effect) + more)
    with pytest.raises(UsageError, match=refusal):
        load_config(pyproject)


def test_tolerance_is_twice_the_largest_repeat_deviation_but_never_below_the_pooled_median() -> None:
    saved = tolerances({"noisy": [1.0, 1.1, 0.95], "quiet": [2.0, 2.0, 2.002], "middle": [1.0, 1.02, 0.99]})
    assert saved["noisy"] == (1.0, pytest.approx(0.2))
    assert saved["middle"] == (1.0, pytest.approx(0.04))
    assert saved["quiet"] == (2.0, pytest.approx(0.04))  # its own 0.2% is raised to the pooled median


def test_saved_ratios_with_another_baseline_hash_are_refused(tmp_path: Path) -> None:
    expected = provenance(Fixtures())
    saved = tmp_path / "saved.json"
    committed = json.loads((REPO_ROOT / SAVED).read_text())  # a whole file (its schema), measured elsewhere
    saved.write_text(json.dumps({**committed, "provenance": {**expected, "baseline_sha256": "0" * 64}}))
    with pytest.raises(UsageError, match="provenance mismatch on baseline_sha256"):
        load_saved(saved, expected)


def test_missing_saved_ratios_say_how_to_create_them(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nox -s rebaseline"):
        load_saved(tmp_path / "none.json", provenance(Fixtures()))


def test_committed_saved_ratios_cover_every_benchmark_with_current_provenance() -> None:
    saved = load_saved(REPO_ROOT / SAVED, provenance(Fixtures()))
    assert set(saved) == set(provenance(Fixtures())["benchmarks"])
    assert all(s.ratio > 0 and 0 < s.tolerance < 1 for s in saved.values())


def test_planted_class_spends_the_planted_share_on_top(tmp_path: Path) -> None:
    slow = planted_class("optimized", "get_recent_runs", 100)
    assert issubclass(slow, optimized.MetricsStorage)
    assert slow.get_recent_runs(str(tmp_path)) == []
    with pytest.raises(UsageError, match="cannot plant"):
        planted_class("optimized", "reset", 10)


@pytest.fixture(scope="module")
def saved_today(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smallest benchmark's ratio saved as --rebaseline saves it, measured now. The committed ratios were
    measured on another day, and the listing's ratio can move past the band between days on a shared machine:
    whether saved ratios hold across days is the saved-ratio calibration's question, not this test's."""
    path = tmp_path_factory.mktemp("saved") / "saved_ratios.json"
    engine = Engine(Arms(Arm("optimized")), DEFAULT_SEED, DEFAULT_ROUNDS)
    rebaseline(path, engine, [SMALLEST], 3, 2, provenance(Fixtures()), commit_of_measured_store())
    return path


def _gate(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bench", "gate", "--only", SMALLEST, "--processes", "3", "--verbose", *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_gate_fails_a_planted_2x_regression(saved_today: Path) -> None:
    run = _gate("--saved", str(saved_today), "--candidate", "bench.gate.planted:optimized__get_recent_runs__plus100")
    assert run.returncode == ExitCode.FAILED, run.stdout + run.stderr
    assert f"REGRESSED  {SMALLEST}: candidate/baseline" in run.stdout


def test_gate_passes_the_unchanged_store(saved_today: Path) -> None:
    run = _gate("--saved", str(saved_today), "--candidate", "optimized")
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1].startswith("no regression in 1 benchmarks: optimized/baseline")


def test_gate_reports_a_usage_error_with_exit_2() -> None:
    run = _gate("--candidate", "no_such_store")
    assert run.returncode == ExitCode.USAGE
    assert "unknown candidate 'no_such_store'" in run.stderr
