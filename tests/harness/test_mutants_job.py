"""`python -m bench mutants` counts mutmut's verdicts honestly and refuses a survivor without a reason.

mutmut itself is not run here (a full run takes hours: `nox -s mutants`); these tests give the job
mutmut's statuses and diffs as mutmut prints them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.jobs import mutants

DIFF = """--- storage/optimized.py
+++ storage/optimized.py
@@ -1,3 +1,3 @@
 def f(values):
-    return sorted(values)[len(values) // 2]
+    return sorted(values)[len(values) // 3]"""


def test_the_score_leaves_out_equivalent_mutants_and_counts_timeouts_apart() -> None:
    found = {"a": "killed", "b": "killed", "c": "survived", "d": "timeout", "e": "no tests", "f": "suspicious"}
    assert mutants.score(found, equivalent=0) == (2, 4)  # timeout and suspicious are neither
    assert mutants.score(found, equivalent=1) == (2, 3)


def test_a_judgement_holds_only_for_the_mutant_whose_line_it_names(tmp_path: Path) -> None:
    judged = tmp_path / "equivalent.toml"
    judged.write_text(
        '["m1"]\nline = "return sorted(values)[len(values) // 3]"\nreason = "same answer"\n'
        '["m2"]\nline = "return sorted(values)[0]"\nreason = "was another mutant"\n'
    )
    judgements = mutants.load_judgements(judged)
    assert mutants.mutated_lines(DIFF) == ["return sorted(values)[len(values) // 3]"]
    fresh = mutants.Survivor("m1", "survived", DIFF, judgements["m1"], stale=False)
    assert fresh.explained
    stale_line = judgements["m2"].line not in mutants.mutated_lines(DIFF)
    assert stale_line and not mutants.Survivor("m2", "survived", DIFF, judgements["m2"], stale_line).explained


def test_a_judgement_without_a_reason_is_a_usage_error(tmp_path: Path) -> None:
    judged = tmp_path / "equivalent.toml"
    judged.write_text('["m1"]\nline = "x = 1"\n')
    with pytest.raises(UsageError, match="needs a `line` and a `reason`"):
        mutants.load_judgements(judged)


def test_the_report_names_every_survivor_with_its_diff_and_flags_the_unexplained() -> None:
    found = {"m_killed": "killed", "m_equivalent": "survived", "m_open": "survived", "m_slow": "timeout"}
    left = [
        mutants.Survivor(
            "m_equivalent", "survived", DIFF, mutants.Judgement("x", "same bytes", "tests/t.py::t"), False
        ),
        mutants.Survivor("m_open", "survived", DIFF, None, False),
    ]
    report = mutants.render(found, left, seconds=600.0, max_children=2)
    assert "**score: 1 of 2 non-equivalent mutants killed (50.0%)**; target 95%: NOT met" in report
    assert "survivors without a written reason: **1**" in report
    assert "equivalent: same bytes (pinned by `tests/t.py::t`)" in report
    assert "**no reason written: kill it or judge it**" in report
    assert report.count("```diff") == 2 and "timeout 1" in report
    assert "run time: 10 minutes, 2 mutants at a time" in report


def test_the_committed_judgements_each_give_a_line_and_a_reason() -> None:
    for name, judgement in mutants.load_judgements().items():
        assert judgement.line.strip() and len(judgement.reason) > 20, name


def test_a_report_of_a_run_that_has_not_checked_every_mutant_says_it_is_partial() -> None:
    report = mutants.render({"a": "killed", "b": "not checked"}, [], seconds=None, max_children=2)
    assert "**Partial run**: 1 of 2 mutants not checked yet" in report
    assert "**score: 1 of 1 non-equivalent mutants killed (100.0%)**" in report  # of those checked
