"""Instruction counts repeat, and a planted extra cost shows: the deterministic mode can be trusted and can fire."""

from __future__ import annotations

import shutil

import pytest

from bench.gate import instructions as saved_counts
from bench.gate.config import load_config
from bench.gate.counts import judge_counts
from bench.gate.planted import plant_syscall_in_source, planted_work_name
from bench.model import location
from bench.model.fixtures import Fixtures
from bench.model.location import Location
from bench.model.results import REPO_ROOT
from bench.runners import instructions
from bench.stores import revision

SMALLEST = "get_recent_runs[100]"
SEED = Fixtures().seed
# The setting the spread was measured at (results/GATE.md): per-call noise shrinks with the calls per run.
CALLS = instructions.DEFAULT_CALLS

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed (Debian package)")


@pytest.fixture(scope="module")
def unchanged_counts() -> list[instructions.Count]:
    return [instructions.count(SMALLEST, "optimized", CALLS, SEED) for _ in range(2)]


def test_two_counts_of_the_same_code_agree_within_a_tenth_of_a_percent(
    unchanged_counts: list[instructions.Count],
) -> None:
    first, second = (c.instructions for c in unchanged_counts)
    assert first > 100_000  # a real listing of 100 folders, not an empty difference
    assert abs(first / second - 1) < 0.001


def test_planted_extra_work_is_counted_and_fails_the_instruction_gate(
    unchanged_counts: list[instructions.Count],
) -> None:
    base = unchanged_counts[0].instructions
    spread = abs(unchanged_counts[1].instructions / base - 1)
    planted = instructions.count(
        SMALLEST, f"bench.gate.planted:{planted_work_name('optimized', 'get_recent_runs', 100)}", CALLS, SEED
    )
    assert planted.instructions > base * 1.02
    saved = {SMALLEST: {"optimized": {"instructions_per_call": base, "tolerance": max(4 * spread, 0.001)}}}
    ((failed, line),) = saved_counts.check(saved, {SMALLEST: {"optimized": planted}}, "optimized")
    assert failed, line
    ((passed_failed, _),) = saved_counts.check(saved, {SMALLEST: {"optimized": unchanged_counts[1]}}, "optimized")
    assert not passed_failed


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (Debian package)")
def test_one_planted_stat_per_call_fails_the_counts_gate_naming_it_and_nothing_else_moves() -> None:
    """Both sides counted in one run, as `gate --against` does: the plant's stat, exactly one per call, fails."""
    here = revision.work_tree(REPO_ROOT, Location(location.DEFAULT_STORE, location.DEFAULT_CLASS))
    module = here.store.module
    source = plant_syscall_in_source(here.modules()[module], "get_recent_runs", "stat")
    planted = here.with_source(module, source, "stat")
    pair = instructions.measure_against([SMALLEST], planted, here, SEED, calls=CALLS)[SMALLEST]
    verdict = judge_counts(SMALLEST, pair, load_config())
    assert verdict.fails
    assert [(change.name, change.candidate - change.reference) for change in verdict.syscalls] == [("newfstatat", 1.0)]
