"""The calibration's own parts: the planted-work search lands a count in its band, in few probes, whatever
the shape of the loop's cost; and `calibrate` refuses what it cannot write before it measures anything.

Synthetic count functions stand in for callgrind: the search is pure arithmetic over what it is told.
"""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.errors import ExitCode
from bench.gate.instructions import PLANTED_BAND, PLANTED_PROBES, planted_iterations
from bench.gate.planted import SYSCALL_PLANTS, plant_syscall_in_source, plant_work_in_source
from bench.report.gate_report import write_gate_report
from tests.common.store_repository import REPO_ROOT

GROWTH = 0.01

# (base count, count with i planted iterations): the shapes callgrind showed or could show.
SHAPES: dict[str, tuple[int, Callable[[int], float]]] = {
    "a fixed cost plus a cost per iteration": (1_000_000, lambda i: 1_000_000 + 700 + 45 * i),
    "cheaper while the loop's ints are cached": (
        1_000_000,
        lambda i: 1_000_000 + 30 * min(i, 256) + 60 * max(i - 256, 0),
    ),
    "a fixed cost of half the growth": (2_000_000, lambda i: 2_000_000 + 9_000 + 3 * i),
    "a few iterations are the whole growth": (100_000, lambda i: 100_000 + 300 * i),
    "a count of billions": (2_000_000_000, lambda i: 2_000_000_000 + 45 * i),
    # The save at 1,000: 32.5 million instructions a call, 236 an iteration, and thousands of noise between counts.
    "noise larger than an iteration": (32_500_000, lambda i: 32_500_000 + 236 * i + 7_000 * ((i * 7919) % 3 - 1)),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_chosen_iterations_add_between_the_growth_and_its_band(shape: str) -> None:
    base, count_of = SHAPES[shape]
    asked: list[int] = []

    def count_with(iterations: int) -> float:
        asked.append(iterations)
        return count_of(iterations)

    iterations, probes = planted_iterations(base, GROWTH, count_with)
    assert GROWTH <= count_of(iterations) / base - 1 <= GROWTH * PLANTED_BAND
    assert probes[iterations] == count_of(iterations)  # the caller reuses this probe's count
    assert len(asked) <= PLANTED_PROBES


def test_when_no_iteration_count_lands_in_the_band_the_smallest_overshoot_is_returned() -> None:
    base = 100_000

    def count_with(iterations: int) -> float:  # any planted work at all adds 2%
        return base * (1.02 + 0.001 * iterations)

    iterations, probes = planted_iterations(base, GROWTH, count_with)
    assert len(probes) - 1 <= PLANTED_PROBES
    assert probes[iterations] == min(c for i, c in probes.items() if i > 0)


@pytest.mark.parametrize("option", ["--json", "--output"])
def test_calibrate_refuses_a_folder_for_a_file_with_exit_2(option: str, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "calibrate", option, str(tmp_path)]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == ExitCode.USAGE, run.stdout + run.stderr
    assert f"{tmp_path} is a folder" in run.stderr and "Traceback" not in run.stderr


def _gate_run(estimate: float, processes: int, failed: bool, spread: float = 0.02) -> dict:
    name = "save_latency_stats[1000]"
    rng = random.Random(processes)
    return {
        "estimates": {name: estimate},
        "detectable": {name: 0.07},
        "processes": {name: processes},
        "log_ratios": {name: [rng.gauss(math.log(estimate), spread) for _ in range(processes)]},
        "failed": [name] if failed else [],
        "seconds": 60.0,
    }


def test_gate_md_shows_each_planted_row_with_what_the_plant_measured_and_the_resampled_rates(tmp_path: Path) -> None:
    calibration = {
        "reference": "0" * 40,
        "settings": {"processes": 6, "rounds": 9, "max_reruns": 2},
        "config": {
            "default_minimum_effect": 0.05,
            "minimum_effects": {},
            "false_alarm_rate": 0.05,
            "instruction_tolerance": 0.015,
        },
        "complete": True,
        "seconds": 600.0,
        "wall_clock": {
            "aa": [_gate_run(1.0, 6, False), _gate_run(0.99, 12, False)],
            "planted": [
                {"percent": 10, **_gate_run(1.08, processes, caught)}
                for processes, caught in ((6, True), (12, False), (18, False))
            ],
        },
    }
    against = tmp_path / "against_calibration.json"
    against.write_text(json.dumps(calibration))
    report = write_gate_report(tmp_path / "GATE.md", against)
    assert "| `save_latency_stats[1000]` | +10% | 1.080 | 12 | 3 | 1 | 33% |" in report
    assert "| `save_latency_stats[1000]` | 0/2 | 0.9950 | 9, 12 | +7.0% |" in report
    assert "resampling the 18 measured A/A processes" in report
    assert str(REPO_ROOT) not in report  # paths from the checkout's root, the same on every machine


@pytest.mark.parametrize("unrolled", [False, True])
def test_planted_work_is_one_line_that_compiles_and_nothing_else_moves(unrolled: bool) -> None:
    source = (REPO_ROOT / "storage" / "optimized.py").read_text()
    planted = plant_work_in_source(source, "compare_runs", 3, unrolled=unrolled)
    added = [line for line in planted.splitlines() if line not in source.splitlines()]
    assert len(added) == 1 and planted.replace(added[0] + "\n", "", 1) == source
    assert added[0].count("_planted = 0") == (3 if unrolled else 0) and ("range(3)" in added[0]) != unrolled
    compile(planted, "optimized.py", "exec")


@pytest.mark.parametrize("call", sorted(SYSCALL_PLANTS))
def test_a_planted_system_call_is_one_line_that_compiles_and_nothing_else_moves(call: str) -> None:
    source = (REPO_ROOT / "storage" / "optimized.py").read_text()
    planted = plant_syscall_in_source(source, "save_latency_stats", call)
    added = [line for line in planted.splitlines() if line not in source.splitlines()]
    assert len(added) == 1 and planted.replace(added[0] + "\n", "", 1) == source
    assert f"os').{call}(" in added[0]
    compile(planted, "optimized.py", "exec")


def _history_commit(rng: random.Random, spread: float) -> dict:
    """One measured A/A commit at history's settings: 4 processes of the store beside itself and the baseline."""
    rows = []
    for _ in range(4):
        base = rng.gauss(1.0, 0.01)
        rows.append([base * 0.5 * math.exp(rng.gauss(0, spread)), base, base * 0.5])
    return {
        "timings": {
            "save_latency_stats[1000]": {
                "benchmark": "save_latency_stats[1000]",
                "rounds": 6,
                "seed": 0,
                "processes": rows,
            }
        },
        "named": [],
        "seconds": 30.0,
    }


def test_gate_md_gives_history_and_finds_rates_replayed_through_their_own_code(tmp_path: Path) -> None:
    rng = random.Random(3)
    calibration = {
        "reference": "0" * 40,
        "settings": {"processes": 6, "rounds": 9, "max_reruns": 2},
        "config": {
            "default_minimum_effect": 0.05,
            "minimum_effects": {},
            "false_alarm_rate": 0.05,
            "instruction_tolerance": 0.015,
        },
        "complete": True,
        "seconds": 600.0,
        "wall_clock": {"aa": [_gate_run(1.0, 18, False), _gate_run(0.99, 18, False)], "planted": []},
        "history": {"aa": [_history_commit(rng, 0.01) for _ in range(25)]},
    }
    against = tmp_path / "against_calibration.json"
    against.write_text(json.dumps(calibration))
    report = write_gate_report(tmp_path / "GATE.md", against)
    history = report.split("## History", 1)[1].split("\n## ", 1)[0]
    assert "**0 steps named in 25**" in history and "0 with any false change point" in history
    planted = re.search(
        r"\| `save_latency_stats\[1000\]` \| \+10% \| ([0-9.]+)% \| ([0-9.]+)% \| ([0-9.]+)% \| met \|", history
    )
    assert planted is not None and min(float(rate) for rate in planted.groups()) >= 95, history
    found = report.split("## Find", 1)[1]
    assert re.search(r"\| `save_latency_stats\[1000\]` \| \+10% \| 100.0% \| 100.0% \| 100.0% \| met \|", found), found
