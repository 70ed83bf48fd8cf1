"""Summaries where people read them: Markdown for a pull request and the job page, JSON that follows its schema.

The schema tests run the real commands on the committed results (the main job's table, the history's
points); tests/harness/test_gate_against.py validates a real failing gate run the same way.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from bench.model import progress
from bench.model.results import Measured
from bench.model.stats import RatioInterval
from bench.report import summary as table
from bench.report.publish import SCHEMA, STEP_SUMMARY_VARIABLE, Row, Summary, as_json, markdown, publish
from tests.common.store_repository import REPO_ROOT

VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text()))


def validate(document: dict) -> None:
    errors = sorted(VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def _row(name: str, verdict: str, fails: bool, estimate: float = 1.0) -> Row:
    return Row(name, "working tree / abc", estimate, estimate * 0.98, estimate * 1.02, 0.99, verdict, fails, 0.07)


def _gate_summary(rows: list[Row]) -> Summary:
    details = {"candidate": "optimized", "outcomes": []}
    passed = not any(r.fails for r in rows)
    return Summary("gate", "Perf gate", "headline", passed, rows, 12.0, "the log", None, details)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_markdown_puts_the_failing_benchmarks_first_and_folds_the_full_output() -> None:
    rows = [_row("compare_runs[5000]", "unchanged", False), _row("get_recent_runs[100]", "regressed", True, 1.3)]
    text = markdown(_gate_summary(rows))
    assert text.startswith("### Perf gate: FAILED\n")
    table_rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [line.split("`")[1] for line in table_rows] == ["get_recent_runs[100]", "compare_runs[5000]"]
    assert "**regressed**" in table_rows[0] and "1.3 [1.274, 1.326]" in table_rows[0]
    assert "+7.0%" in table_rows[0]
    assert "<details><summary>Full output</summary>" in text and "the log" in text


def test_a_ratio_without_its_interval_does_not_pass_the_schema() -> None:
    document = as_json(_gate_summary([_row("compare_runs[5000]", "unchanged", False)]))
    validate(document)
    document["rows"][0]["low"] = None
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA.read_text()))


def test_an_interval_that_could_catch_nothing_is_null_in_json_not_infinity(tmp_path: Path) -> None:
    row = Row("compare_runs[5000]", "x", 1.0, 0.5, 1.5, 0.95, "unchanged", False, math.inf)
    publish(_gate_summary([row]), None, tmp_path / "s.json")
    document = json.loads((tmp_path / "s.json").read_text())  # json.loads would accept Infinity: check the text
    assert "Infinity" not in (tmp_path / "s.json").read_text()
    assert document["rows"][0]["smallest_detectable"] is None
    validate(document)


def test_the_job_summary_is_appended_when_github_names_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv(STEP_SUMMARY_VARIABLE, str(step_summary))
    written = publish(_gate_summary([_row("compare_runs[5000]", "unchanged", False)]), tmp_path / "m.md", None)
    assert written == [tmp_path / "m.md", step_summary]
    assert step_summary.read_text() == "earlier step\n" + (tmp_path / "m.md").read_text()


def test_without_github_only_the_asked_file_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STEP_SUMMARY_VARIABLE, raising=False)
    assert publish(_gate_summary([]), None, None) == []


def _bench(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bench", *args]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_the_main_jobs_summary_of_the_committed_run_follows_the_schema(tmp_path: Path) -> None:
    run = _bench("summary", "results", "--json", str(tmp_path / "b.json"), "--markdown", str(tmp_path / "b.md"))
    assert run.returncode == 0, run.stderr
    document = json.loads((tmp_path / "b.json").read_text())
    validate(document)
    assert document["kind"] == "bench" and document["rows"]
    assert all(row["low"] <= row["estimate"] <= row["high"] for row in document["rows"])
    text = (tmp_path / "b.md").read_text()
    assert "targets of the shipped stores met" in text


def test_the_historys_summary_of_the_committed_points_follows_the_schema(tmp_path: Path) -> None:
    run = _bench("history", "--points-only", "--json", str(tmp_path / "h.json"), "--markdown", str(tmp_path / "h.md"))
    assert run.returncode == 0, run.stderr
    document = json.loads((tmp_path / "h.json").read_text())
    validate(document)
    assert document["kind"] == "history" and document["details"]["points"]
    assert len(document["rows"]) == len(document["details"]["change_points"])


# --- no number without its uncertainty: the main job's table ---------------------------------------


def _measured(*process_medians: float) -> Measured:
    return Measured(sorted(process_medians)[len(process_medians) // 2], process_medians, None, "run-1")


def test_an_aa_comparison_reads_no_difference_with_its_interval() -> None:
    same = _measured(1.00, 1.02, 0.98, 1.01, 0.99, 1.03)
    other = _measured(1.01, 0.99, 1.00, 1.02, 1.00, 1.01)
    pyperf = {"baseline": {"compare_runs[5000]": same}, "copy": {"compare_runs[5000]": other}}
    pytest_results = {
        "baseline": {"compare_runs[5000]": Measured(1.0, (), None, None)},
        "copy": {"compare_runs[5000]": Measured(2.0, (), None, None)},  # pytest-benchmark's single process: 0.50x
    }
    rows = table.build_rows(pyperf, pytest_results, ["baseline", "copy"])
    rendered = table.render(rows)
    (line,) = [row for row in rendered.splitlines() if "| copy " in row]
    assert "no difference [" in line
    assert "0.50x (1 process)" in line  # shown, under the column that says it is a cross-check
    assert "cross-check, not a finding" in rendered.splitlines()[0]


def test_a_speedup_whose_interval_excludes_one_reads_as_a_ratio_with_it() -> None:
    assert table.speedup_text(RatioInterval(3.5, 3.4, 3.6, 0.95, 20)) == "3.50x [3.40, 3.60]"
    assert table.speedup_text(RatioInterval(1.01, 0.99, 1.03, 0.95, 20)) == "no difference [0.99, 1.03]"


# --- progress --------------------------------------------------------------------------------------


def test_progress_off_a_terminal_prints_a_line_per_step_with_an_estimate_and_nested_tasks_stay_quiet(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    with progress.task("outer", 2, terminal=False) as step:
        step("first")
        with progress.task("inner", 3, terminal=False) as inner:
            for n in range(3):
                inner(f"inner {n}")
        step("second")
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0].startswith("[1/2] first (") and lines[1].startswith("[2/2] second (")
    assert "s left" in lines[1] and len(lines) == 2


def test_progress_off_a_terminal_prints_no_more_than_a_line_every_few_seconds(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with progress.task("many", 1000, terminal=False) as step:
        for n in range(1000):
            step(f"item {n}")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("[1/1000] item 0") and len(lines) == 1  # 1000 quick steps: one line, not 1000
