"""Every option either works or is gone, and every failure is an exit code with a message, never a traceback.

Each test here fails on a harness that had one of these defects: an option accepted and then ignored, a
summary asked for and never written, a file named on the command line and swapped for another, a missing
git or a broken saved file turning into a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import cli
from bench.errors import ExitCode
from bench.runners import instructions as counting
from tests.common.store_repository import REPO_ROOT

SAMPLE = REPO_ROOT / "tests" / "data" / "report_sample"


def test_instructions_takes_no_fixture_cache_it_would_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["instructions", "--fixture-cache", "/tmp/elsewhere"])
    assert exited.value.code == ExitCode.USAGE
    assert "unrecognized arguments: --fixture-cache" in capsys.readouterr().err


def test_run_refuses_a_fixture_cache_its_instruction_counts_would_ignore(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["run", "--instructions", "--fixture-cache", str(tmp_path)])
    assert status == ExitCode.USAGE
    assert "it takes no --fixture-cache" in capsys.readouterr().err


def test_gate_refuses_to_publish_instruction_counts_it_has_no_summary_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    markdown, document = tmp_path / "gate.md", tmp_path / "gate.json"
    status = cli.main(["gate", "--instructions", "--markdown", str(markdown), "--json", str(document)])
    assert status == ExitCode.USAGE
    assert "--instructions prints its counts" in capsys.readouterr().err
    assert not markdown.exists() and not document.exists()


def test_gate_reads_the_saved_file_it_is_given(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An explicit --saved is the file read, even with --instructions, never swapped for the saved counts."""

    def measured(*args: object, **kwargs: object) -> None:
        raise AssertionError("counted against the saved counts instead of the file given")

    monkeypatch.setattr(counting, "measure_all", measured)
    given = REPO_ROOT / "results" / "gate" / "saved_ratios.json"  # ratios, not counts: refused, and named
    status = cli.main(["gate", "--instructions", "--saved", str(given)])
    assert status == ExitCode.USAGE
    assert str(given) in capsys.readouterr().err


def test_a_missing_git_is_exit_2_with_a_message() -> None:
    empty = {**os.environ, "PATH": "/nonexistent"}  # no git on it; this Python is named by its full path
    command = [sys.executable, "-m", "bench", "gate", "--against", "HEAD", "--only", "get_recent_runs[100]"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=empty, capture_output=True, text=True, timeout=120)
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "git is not installed" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("broken", "text"),
    [("equivalence.json", "{not json"), ("pyperf/optimized.json", '{"version": "1.0", "benchmarks": 7}')],
)
def test_a_broken_saved_file_is_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broken: str, text: str
) -> None:
    results = tmp_path / "results"
    shutil.copytree(SAMPLE, results)
    (results / broken).write_text(text)
    status = cli.main(["report", str(results), "--output", str(tmp_path / "REPORT.md")])
    assert status == ExitCode.USAGE
    assert str(results / broken) in capsys.readouterr().err


def test_the_calibration_refuses_a_resumed_file_that_is_not_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "against_calibration.json"
    saved.write_text("{truncated")
    status = cli.main(["calibrate", "--resume", "--json", str(saved), "--output", str(tmp_path / "GATE.md")])
    assert status == ExitCode.USAGE
    assert str(saved) in capsys.readouterr().err
    assert not (tmp_path / "GATE.md").exists()
