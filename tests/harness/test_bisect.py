"""find's bisection, apart from any timing: it names the first slow commit wherever it lies, in about log2(N) probes,
and says where a skipped commit leaves the answer open."""

from __future__ import annotations

import math

import pytest

from bench.errors import RevisionError
from bench.history.bisect import first_slow


@pytest.mark.parametrize("first", [0, 1, 9, 18, 19])
def test_the_first_slow_commit_is_found_wherever_it_lies_in_about_log2_probes(first: int) -> None:
    probes: list[int] = []

    def slow(index: int) -> bool:
        probes.append(index)
        return index >= first

    found = first_slow(20, slow)
    assert found is not None and found.first == first and found.unresolved == ()
    assert probes[0] == 19  # BAD first: is there anything to find?
    assert len(probes) <= 1 + math.ceil(math.log2(20))


def test_a_last_commit_that_is_not_slow_leaves_nothing_to_bisect() -> None:
    assert first_slow(5, lambda index: False) is None


def test_a_last_commit_that_cannot_be_measured_is_an_error() -> None:
    with pytest.raises(RevisionError, match="cannot be measured"):
        first_slow(5, lambda index: None)


def test_skipped_commits_before_the_first_slow_one_are_named_as_unresolved() -> None:
    def slow(index: int) -> bool | None:
        return None if index in (5, 6) else index >= 7

    found = first_slow(10, slow)
    assert found is not None and found.first == 7 and found.unresolved == (5, 6)
