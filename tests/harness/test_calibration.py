"""The calibration's own parts: the planted-work search lands a count in its band, in few probes, whatever
the shape of the loop's cost; and `calibrate` refuses what it cannot write before it measures anything.

Synthetic count functions stand in for callgrind: the search is pure arithmetic over what it is told.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.errors import ExitCode
from bench.gate.gate_report import write_gate_report
from bench.gate.instructions import PLANTED_BAND, PLANTED_PROBES, planted_iterations
from bench.gate.planted import plant_work_in_source
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


def _gate_run(estimate: float, detectable: float, failed: bool) -> dict:
    name = "save_latency_stats[1000]"
    return {
        "estimates": {name: estimate},
        "detectable": {name: detectable},
        "failed": [name] if failed else [],
        "seconds": 60.0,
    }


def test_gate_md_shows_beside_each_planted_row_what_its_runs_could_catch(tmp_path: Path) -> None:
    calibration = {
        "reference": "0" * 40,
        "settings": {"processes": 6, "rounds": 9, "max_reruns": 2},
        "config": {"default_minimum_effect": 0.05, "false_alarm_rate": 0.05, "instruction_tolerance": 0.005},
        "complete": True,
        "wall_clock": {
            "aa": [_gate_run(1.0, 0.07, False)],
            "planted": [
                {"operation": "save_latency_stats", "percent": 10, **_gate_run(1.08, detectable, caught)}
                for detectable, caught in ((0.06, True), (0.10, False), (0.12, False))
            ],
        },
    }
    against = tmp_path / "against_calibration.json"
    against.write_text(json.dumps(calibration))
    report = write_gate_report(tmp_path / "GATE.md", against)
    assert "| `save_latency_stats[1000]` | +10% | 1.080 | +10.0% | 3 | 1 | 33% |" in report
    assert str(REPO_ROOT) not in report  # paths from the checkout's root, the same on every machine


@pytest.mark.parametrize("unrolled", [False, True])
def test_planted_work_is_one_line_that_compiles_and_nothing_else_moves(unrolled: bool) -> None:
    source = (REPO_ROOT / "storage" / "optimized.py").read_text()
    planted = plant_work_in_source(source, "compare_runs", 3, unrolled=unrolled)
    added = [line for line in planted.splitlines() if line not in source.splitlines()]
    assert len(added) == 1 and planted.replace(added[0] + "\n", "", 1) == source
    assert added[0].count("_planted = 0") == (3 if unrolled else 0) and ("range(3)" in added[0]) != unrolled
    compile(planted, "optimized.py", "exec")
