"""The gate's sequential wall-clock rule: it stops where the answer is clear, measures further only the undecided,
and its false-alarm rate at the worst case the proof allows stays within the nominal rate."""

from __future__ import annotations

import math
import random

import pytest

from bench.gate._decide import Band
from bench.gate._measure import ProcessTiming
from bench.gate._sequential import Design, bounds, decide_sequence, judge_sequential, resampled_rates
from bench.model.verdict import Verdict

BAND = Band(1.0, 0.05)
DESIGN = Design.every(6, 2, 0.05)


def _values(rng: random.Random, ratio: float, spread: float, n: int) -> list[float]:
    return [rng.gauss(math.log(ratio), spread) for _ in range(n)]


def test_each_bound_spends_the_runs_rate_over_every_benchmark_and_every_look() -> None:
    assert DESIGN.looks == (6, 12, 18)
    assert DESIGN.level(9) == pytest.approx(0.05 / 27)


@pytest.mark.parametrize("looks", [(), (2, 4), (6, 6), (12, 6)])
def test_looks_must_rise_from_three_processes(looks: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="looks must rise"):
        Design(looks, 0.05)


def test_a_clear_slowdown_is_decided_at_the_first_look() -> None:
    values = _values(random.Random(1), 1.30, 0.01, 18)
    assert decide_sequence(values, DESIGN.looks, DESIGN.level(9), BAND) == (Verdict.REGRESSED, 6)


def test_the_same_code_is_ruled_out_at_the_first_look_when_quiet() -> None:
    values = _values(random.Random(2), 1.0, 0.01, 18)
    assert decide_sequence(values, DESIGN.looks, DESIGN.level(9), BAND) == (Verdict.UNCHANGED, 6)


def test_a_ratio_at_the_limit_stays_open_to_the_last_look_and_passes() -> None:
    # Alternating around exactly 1 + e: the bound straddles the limit at every look.
    values = [math.log(1.05) + (0.03 if i % 2 else -0.03) for i in range(18)]
    assert decide_sequence(values, DESIGN.looks, DESIGN.level(9), BAND) == (Verdict.INCONCLUSIVE, 18)
    assert not Verdict.INCONCLUSIVE.fails


def test_bounds_below_five_processes_are_a_plain_t_interval_on_the_geometric_mean() -> None:
    interval = bounds([math.log(1.1)] * 2 + [math.log(1.2)] * 2, 0.025)
    assert interval.estimate == pytest.approx(math.sqrt(1.1 * 1.2))
    assert interval.low < interval.estimate < interval.high
    assert interval.confidence == pytest.approx(0.95) and interval.pairs == 4


def test_one_process_slow_throughout_neither_decides_nor_blurs_a_benchmark() -> None:
    """The measured case: one process's revision arm 18% slower in all its rounds (d = -0.166) among tight ones."""
    rng = random.Random(9)
    tight = [rng.gauss(math.log(1.10), 0.01) for _ in range(11)]
    interval = bounds([*tight, -0.166], DESIGN.level(9))
    assert interval.low > 1.05  # still caught: set aside, not averaged in
    plain_mean = math.exp(sum([*tight, -0.166]) / 12)
    assert plain_mean < 1.085 < interval.estimate


def test_later_looks_measure_only_the_benchmarks_still_open() -> None:
    rng = random.Random(3)
    truth = {"clear": (1.3, 0.01), "same": (1.0, 0.01), "borderline": (1.05, 0.04)}
    asked: list[tuple[list[str], int]] = []

    def measure(names: list[str], processes: int) -> dict[str, list[ProcessTiming]]:
        asked.append((list(names), processes))
        return {
            name: [
                ProcessTiming(math.exp(rng.gauss(math.log(truth[name][0]), truth[name][1])), 1.0, 1.0)
                for _ in range(processes)
            ]
            for name in names
        }

    outcomes = {o.name: o for o in judge_sequential(list(truth), dict.fromkeys(truth, BAND), measure, DESIGN)}
    assert asked[0] == (["clear", "same", "borderline"], 6)
    assert all(names == ["borderline"] and n == 6 for names, n in asked[1:])
    assert outcomes["clear"].verdict is Verdict.REGRESSED and outcomes["clear"].processes == 6
    assert outcomes["same"].verdict is Verdict.UNCHANGED and outcomes["same"].processes == 6
    assert outcomes["borderline"].processes == 6 * len(asked)


def test_the_false_alarm_rate_at_the_worst_case_stays_within_the_nominal_rate() -> None:
    """Normal processes whose true ratio is exactly 1 + e on all 9 benchmarks: the proof's worst case. A sample of
    400 stands for the distribution, so the resampling is close to drawing from it."""
    rng = random.Random(4)
    samples = {f"b{i}": _values(rng, 1.0, 0.03, 400) for i in range(9)}
    bands = dict.fromkeys(samples, BAND)
    rate, _ = resampled_rates(samples, math.log(1.05), DESIGN, bands, 2000, seed=5)
    # Nominal 5%; the union bound makes it conservative. Three standard errors of 2000 runs above it still fail.
    assert rate <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / 2000)
    # And the rule is not blind: the same spread moved to +10% is caught nearly always.
    _, power = resampled_rates(samples, math.log(1.10), DESIGN, bands, 500, seed=6)
    assert min(power.values()) > 0.9


def test_a_rule_that_forgot_the_looks_in_its_level_would_be_caught() -> None:
    """The check above can fail: the same rule at the level of one look over many looks breaks the rate."""
    rng = random.Random(7)
    samples = {f"b{i}": _values(rng, 1.0, 0.03, 400) for i in range(9)}
    careless = Design(tuple(range(3, 31)), 0.05 * 28)  # 28 looks, each at the level one look alone would get
    rate, _ = resampled_rates(samples, math.log(1.05), careless, dict.fromkeys(samples, BAND), 1000, seed=8)
    assert rate > 0.05 + 3 * math.sqrt(0.05 * 0.95 / 1000)
