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

from bench import gate
from bench.fixtures import Fixtures
from bench.planted import planted_class
from bench.stats import RatioInterval
from storage import optimized

REPO_ROOT = Path(__file__).resolve().parent.parent
SMALLEST = "get_recent_runs[100]"
SAVED = gate.SAVED_RATIOS


def _interval(low: float, high: float) -> RatioInterval:
    return RatioInterval((low + high) / 2, low, high, 0.95, 6)


@pytest.mark.parametrize(
    ("low", "high", "verdict"),
    [
        (1.11, 1.30, "regressed"),  # all of it above 1.0 * (1 + 10%)
        (0.70, 0.89, "improved"),  # all of it below 1.0 * (1 - 10%)
        (0.95, 1.05, "unchanged"),  # inside the band
        (1.05, 1.20, "inconclusive"),  # across the upper limit
        (0.80, 1.00, "inconclusive"),  # across the lower limit
    ],
)
def test_verdict_follows_the_interval_against_the_tolerance_band(low: float, high: float, verdict: str) -> None:
    assert gate.decide(_interval(low, high), gate.SavedRatio(1.0, 0.10)) == verdict


def test_tolerance_is_twice_the_largest_repeat_deviation_but_never_below_the_pooled_median() -> None:
    saved = gate.tolerances({"noisy": [1.0, 1.1, 0.95], "quiet": [2.0, 2.0, 2.002], "middle": [1.0, 1.02, 0.99]})
    assert saved["noisy"] == (1.0, pytest.approx(0.2))
    assert saved["middle"] == (1.0, pytest.approx(0.04))
    assert saved["quiet"] == (2.0, pytest.approx(0.04))  # its own 0.2% is raised to the pooled median


def test_saved_ratios_with_another_baseline_hash_are_refused(tmp_path: Path) -> None:
    expected = gate.provenance(Fixtures())
    saved = tmp_path / "saved.json"
    saved.write_text(
        json.dumps({"format": 1, "provenance": {**expected, "baseline_sha256": "0" * 64}, "benchmarks": {}})
    )
    with pytest.raises(gate.UsageError, match="provenance mismatch on baseline_sha256"):
        gate.load_saved(saved, expected)


def test_missing_saved_ratios_say_how_to_create_them(tmp_path: Path) -> None:
    with pytest.raises(gate.UsageError, match="nox -s rebaseline"):
        gate.load_saved(tmp_path / "none.json", gate.provenance(Fixtures()))


def test_committed_saved_ratios_cover_every_benchmark_with_current_provenance() -> None:
    saved = gate.load_saved(REPO_ROOT / SAVED, gate.provenance(Fixtures()))
    assert set(saved) == set(gate.provenance(Fixtures())["benchmarks"])
    assert all(s.ratio > 0 and 0 < s.tolerance < 1 for s in saved.values())


def test_planted_class_spends_the_planted_share_on_top(tmp_path: Path) -> None:
    slow = planted_class("optimized", "get_recent_runs", 100)
    assert issubclass(slow, optimized.MetricsStorage)
    assert slow.get_recent_runs(str(tmp_path)) == []
    with pytest.raises(LookupError, match="cannot plant"):
        planted_class("optimized", "reset", 10)


def _gate(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bench.gate", "--only", SMALLEST, "--processes", "3", *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)


def test_gate_fails_a_planted_2x_regression() -> None:
    run = _gate("--candidate", "bench.planted:optimized__get_recent_runs__plus100")
    assert run.returncode == gate.REGRESSION, run.stdout + run.stderr
    assert f"REGRESSED  {SMALLEST}: candidate/baseline" in run.stdout


def test_gate_passes_the_unchanged_store() -> None:
    run = _gate("--candidate", "optimized")
    assert run.returncode == gate.PASS, run.stdout + run.stderr
    assert "0 failed, 1 passed" in run.stdout


def test_gate_reports_a_usage_error_with_exit_2() -> None:
    run = _gate("--candidate", "no_such_store")
    assert run.returncode == gate.USAGE
    assert "unknown candidate 'no_such_store'" in run.stderr
