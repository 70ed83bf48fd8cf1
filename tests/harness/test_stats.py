"""Speedups and their intervals mean what the table says they mean."""

from __future__ import annotations

import pytest

from bench.model.stats import RatioInterval, paired_speedups, ratio_interval, verdict


def test_speedup_is_baseline_time_over_candidate_time() -> None:
    assert paired_speedups([1.0, 2.0], [4.0, 4.0]) == [4.0, 2.0]


def test_a_constant_speedup_has_a_zero_width_interval() -> None:
    interval = ratio_interval([1.0] * 10, [3.0] * 10)
    assert (interval.estimate, interval.low, interval.high, interval.pairs) == (3.0, 3.0, 3.0, 10)


def test_the_interval_holds_the_median_of_the_paired_ratios() -> None:
    candidate = [1.0, 1.1, 0.9, 1.05, 0.95, 1.2, 1.0]
    baseline = [4.0, 4.6, 3.5, 4.1, 4.0, 4.4, 3.9]
    interval = ratio_interval(candidate, baseline)
    assert interval.low <= interval.estimate <= interval.high
    assert interval.low < interval.high
    assert interval.estimate == sorted(b / c for c, b in zip(candidate, baseline, strict=True))[3]


def test_the_same_samples_give_the_same_interval() -> None:
    samples = ([1.0, 1.3, 0.8, 1.1], [2.0, 2.9, 2.1, 2.5])
    assert ratio_interval(*samples) == ratio_interval(*samples)


@pytest.mark.parametrize(
    ("candidate", "baseline", "message"),
    [
        ([1.0], [1.0, 2.0], "pair up"),
        ([], [], "no samples"),
        ([0.0], [1.0], "positive"),
        ([float("nan")], [1.0], "positive"),
    ],
)
def test_samples_that_cannot_give_a_ratio_are_refused(candidate: list, baseline: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ratio_interval(candidate, baseline)


@pytest.mark.parametrize(
    ("low", "estimate", "high", "expected"),
    [(4.5, 5.0, 5.5, "met"), (3.5, 4.2, 4.8, "met?"), (3.5, 3.8, 4.2, "missed?"), (3.0, 3.2, 3.5, "missed")],
)
def test_verdict_reads_the_estimate_and_flags_an_interval_across_the_target(
    low: float, estimate: float, high: float, expected: str
) -> None:
    assert str(verdict(RatioInterval(estimate, low, high, 0.95, 10), 4.0)) == expected
