"""The harness's own commands under SIGKILL (bench.jobs.kills): after each kill at a random moment, every
file the command wrote loads; the next run finishes; `history` never measures a finished point twice.

The long variant (`-m slow`, run by `nox -s soak`) kills each of the four commands 20 times; the short one, in
`nox -s tests`, kills `history` three times late in its run, where it writes its points, and must resume. Its
kills wait for a point, so they come after the answer pass, which it leaves out (`--no-answers`: the pass only cost
it time); the long variant's land anywhere, the answer pass included. Each records its figures for
results/RELIABILITY.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.jobs import kills

COMMANDS = {command.name: command for command in kills.commands()}


def _campaign(
    tmp_path: Path,
    command: kills.Command,
    count: int,
    record_property: pytest.RecordProperty,
    window: tuple[float, float],
    *,
    after_a_point: bool = False,
) -> kills.Outcome:
    outcome = kills.campaign(command, count, tmp_path, seed=20261205, window=window, after_a_point=after_a_point)
    record_property("kills", outcome.kills)
    record_property("files_checked", outcome.files_checked)
    record_property("unloadable_files", len(outcome.unloadable))
    record_property("points_rewritten", len(outcome.rewritten_points))
    for kind, left in outcome.leftovers.items():
        record_property(f"left_{kind.split(' ')[0]}", left)
    record_property("full_run_ms", round(outcome.full_run_s * 1000))
    if outcome.final_resumed is not None:
        record_property("last_run_resumed_points", outcome.final_resumed)
        record_property("last_run_measured_points", outcome.final_measured or 0)
    assert outcome.kills == count
    assert kills.failed(outcome, command) == []
    return outcome


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_survives_20_kills(tmp_path: Path, name: str, record_property: pytest.RecordProperty) -> None:
    _campaign(tmp_path, COMMANDS[name], 20, record_property, window=(0.05, 1.0))


def test_history_resumes_after_kills_without_measuring_a_point_twice(
    tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    # Late in the run, where the points are being written: the last run must find some and measure only the rest.
    # Each kill waits for a new point first: on a loaded machine a run slower than the whole one timed would
    # otherwise be killed before it writes any, and the last run would have nothing to resume.
    outcome = _campaign(
        tmp_path, kills.history_command(3, answers=False), 3, record_property, window=(0.75, 1.0), after_a_point=True
    )
    assert outcome.final_resumed is not None and outcome.final_resumed >= 1
    assert outcome.final_resumed + (outcome.final_measured or 0) == 3  # --last 3: each point measured once
