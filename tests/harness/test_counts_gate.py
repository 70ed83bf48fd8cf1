"""The deterministic counts' rule: instructions past the committed tolerance fail, an exact system call fails on any
increase, a wandering one only above its tolerance; and strace's summary is read call by call."""

from __future__ import annotations

import shutil
import sys

import pytest

from bench.gate.config import load_config
from bench.gate.counts import judge_counts, markdown_table
from bench.model.verdict import Verdict
from bench.runners import instructions
from bench.runners.instructions import Count, Pair

CONFIG = load_config()


def _pair(growth: float = 0.0, mine: dict[str, float] | None = None, theirs: dict[str, float] | None = None) -> Pair:
    theirs = theirs if theirs is not None else {"openat": 2.0, "write": 4.0, "brk": 1.0}
    mine = mine if mine is not None else dict(theirs)
    return Pair(
        Count(1_000_000 * (1 + growth), sum(mine.values()), mine), Count(1_000_000, sum(theirs.values()), theirs)
    )


def test_the_committed_tolerance_passes_the_real_0_7_percent_and_fails_a_planted_2_percent() -> None:
    assert judge_counts("save_latency_stats[1000]", _pair(0.0070), CONFIG).verdict is Verdict.UNCHANGED
    assert judge_counts("save_latency_stats[1000]", _pair(0.0200), CONFIG).fails
    assert judge_counts("save_latency_stats[1000]", _pair(-0.0200), CONFIG).verdict is Verdict.IMPROVED


def test_one_more_exact_system_call_per_call_fails_and_names_it() -> None:
    verdict = judge_counts(
        "save_latency_stats[1000]", _pair(mine={"openat": 2.0, "write": 4.0, "brk": 1.0, "fsync": 1.0}), CONFIG
    )
    assert verdict.fails
    assert [(c.name, c.verdict) for c in verdict.syscalls] == [("fsync", Verdict.REGRESSED)]
    assert "more fsync" in verdict.line("0" * 12, CONFIG)


def test_a_wandering_call_passes_within_its_tolerance_and_fails_beyond_it() -> None:
    assert "brk" in CONFIG.syscall_wandering
    within = 1.0 + CONFIG.syscall_wandering_tolerance
    beyond = within + 0.5
    assert not judge_counts("x[1]", _pair(mine={"openat": 2.0, "write": 4.0, "brk": within}), CONFIG).fails
    assert judge_counts("x[1]", _pair(mine={"openat": 2.0, "write": 4.0, "brk": beyond}), CONFIG).fails


def test_fewer_exact_calls_is_an_improvement_not_a_failure() -> None:
    verdict = judge_counts("x[1]", _pair(mine={"openat": 1.0, "write": 4.0, "brk": 1.0}), CONFIG)
    assert not verdict.fails and verdict.syscalls[0].verdict is Verdict.IMPROVED


def test_counts_without_strace_say_so_and_gate_on_instructions_alone() -> None:
    pair = Pair(Count(1.03e6, None), Count(1e6, None))
    verdict = judge_counts("x[1]", pair, CONFIG)
    assert verdict.fails and not verdict.syscalls_counted
    assert "strace is not installed" in verdict.line("0" * 12, CONFIG)
    assert verdict.as_json()["syscalls"] is None


def test_the_markdown_table_puts_failures_first_and_has_no_interval_column() -> None:
    verdicts = [
        judge_counts("a[1]", _pair(), CONFIG),
        judge_counts("b[1]", _pair(mine={"openat": 3.0, "write": 4.0, "brk": 1.0}), CONFIG),
    ]
    table = markdown_table(verdicts, "0" * 12, CONFIG)
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert rows[0].startswith("| `b[1]`") and "**REGRESSED**" in rows[0] and "openat 2 -> 3" in rows[0]
    assert "no interval" in table


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed (Debian package)")
def test_strace_calls_are_read_call_by_call_and_add_up_to_its_total() -> None:
    program = "import os\nfor _ in range(7): os.stat('.')\n"
    with_stats = instructions._strace_calls([sys.executable, "-c", program])
    without = instructions._strace_calls([sys.executable, "-c", program.replace("range(7)", "range(0)")])
    assert with_stats is not None and without is not None
    assert (
        with_stats.get("newfstatat", 0)
        + with_stats.get("stat", 0)
        - (without.get("newfstatat", 0) + without.get("stat", 0))
        == 7
    )
