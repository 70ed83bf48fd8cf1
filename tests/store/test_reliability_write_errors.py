"""Write errors: a full disk, a folder where a file should be, permissions that forbid the write.

Each case saves once (save 1), breaks something, saves again (save 2), and shows the three
candidates side by side: optimized raises to the caller and keeps save 1 whole with nothing
partial beside it; the baseline raises too, but leaves a torn or half-updated pair; the proposed
store's thread pool never reads its futures, so the caller hears nothing.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage import optimized, resolve
from tests.common.call_outcomes import Outcome, outcome_of
from tests.common.kernel_faults import read_only, small_disk
from tests.common.tagged_collectors import expected_csv, expected_summary, tag_of_csv, tag_of_summary, tagged_collector

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS_DIR.parent
SUMMARY, CSV = optimized.SUMMARY_NAME, optimized.RAW_NAME
RUN_ID = "r"
FIRST_SIZE = 10  # save 1, the previous complete files
SECOND_SIZE = 5000  # save 2: a 3 KB summary and a 250 KB CSV
CANDIDATES = ("baseline", "optimized", "proposed")

# Mode bits must bind the test: as root it runs in a child without CAP_DAC_OVERRIDE (tests/common/kernel_faults.py).
unprivileged = pytest.mark.unprivileged


@dataclass(frozen=True)
class Attempt:
    """How save 2 ended, and what each entry of the run folder holds afterwards."""

    outcome: Outcome
    files: dict[str, str]


def _describe(entry: Path, scratch: Path) -> str:
    """'save 1', 'save 2', 'folder', or 'torn (<n> bytes)': which save wrote the entry, whole."""
    if entry.is_dir():
        return "folder"
    raw = entry.read_bytes()
    try:
        if entry.name == CSV:
            _, seq = tag_of_csv(raw)
            whole = raw == expected_csv(0, seq, FIRST_SIZE if seq == 1 else SECOND_SIZE, scratch)
        else:
            summary = json.loads(raw)
            _, seq = tag_of_summary(summary)
            size = FIRST_SIZE if seq == 1 else SECOND_SIZE
            whole = {k: v for k, v in summary.items() if k != "timestamp"} == expected_summary(RUN_ID, 0, seq, size)
    except ValueError:
        whole = False
    return f"save {seq}" if whole else f"torn ({len(raw)} bytes)"


def _files(run_dir: Path, scratch: Path) -> dict[str, str]:
    return {entry.name: _describe(entry, scratch) for entry in sorted(run_dir.iterdir())}


Around = Callable[[Path], AbstractContextManager[object]]


def _attempt(
    candidate: str, results_dir: Path, scratch: Path, break_it: Callable[[Path], None], around: Around
) -> Attempt:
    """Save 1, break_it(run folder), then save 2 inside around(run folder) (a mount), described before it ends."""
    store = resolve(candidate)(RUN_ID, str(results_dir))
    store.save_latency_stats(tagged_collector(0, 1, FIRST_SIZE))
    break_it(store.metrics_dir)
    with around(Path(store.metrics_dir)):
        outcome = outcome_of(lambda: store.save_latency_stats(tagged_collector(0, 2, SECOND_SIZE)))
        return Attempt(outcome, _files(store.metrics_dir, scratch))


def _attempts(
    tmp_path: Path, break_it: Callable[[Path], None] = lambda _: None, around: Around = lambda _: nullcontext()
) -> dict[str, Attempt]:
    scratch = tmp_path / "expected"
    scratch.mkdir()
    return {name: _attempt(name, tmp_path / name, scratch, break_it, around) for name in CANDIDATES}


def _error(attempt: Attempt, candidate_dir: Path) -> tuple[type[BaseException], str] | None:
    """The exception raised, with the candidate's own folder taken out of its message."""
    if attempt.outcome.raised is None:
        return None
    kind, message = attempt.outcome.raised
    return kind, message.replace(str(candidate_dir), "<results>")


# --- a full disk ---------------------------------------------------------------------------------


def _save_under_limit(candidate: str, results_dir: Path, limit: int) -> dict[str, object]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    worker = TESTS_DIR / "common" / "save_under_file_size_limit.py"
    command = [sys.executable, str(worker), candidate, str(results_dir), RUN_ID]
    command += ["--limit", str(limit), "--size", str(SECOND_SIZE)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize(("limit", "torn_by_baseline"), [(1024, SUMMARY), (64 * 1024, CSV)])
def test_full_disk_raises_and_keeps_the_previous_files(tmp_path: Path, limit: int, torn_by_baseline: str) -> None:
    scratch = tmp_path / "expected"
    scratch.mkdir()
    reports, files = {}, {}
    for name in CANDIDATES:
        reports[name] = _save_under_limit(name, tmp_path / name, limit)
        files[name] = _files(tmp_path / name / RUN_ID, scratch)

    assert reports["optimized"] == {"raised": "OSError", "errno": errno.EFBIG}
    assert files["optimized"] == {CSV: "save 1", SUMMARY: "save 1"}  # no temporary left either

    assert reports["baseline"] == {"raised": "OSError", "errno": errno.EFBIG}
    assert files["baseline"][torn_by_baseline] == f"torn ({limit} bytes)"

    assert reports["proposed"] == {"raised": None, "errno": None}  # swallowed
    assert f"torn ({limit} bytes)" in files["proposed"].values()


# --- a folder or a read-only file where a file should be ----------------------------------------


def _folder_at(name: str) -> Callable[[Path], None]:
    def replace_with_folder(run_dir: Path) -> None:
        (run_dir / name).unlink()
        (run_dir / name).mkdir()
        (run_dir / name / "kept.txt").write_text("not ours to remove")

    return replace_with_folder


def _read_only(name: str) -> Callable[[Path], None]:
    def make_read_only(run_dir: Path) -> None:
        (run_dir / name).chmod(0o444)

    return make_read_only


def _obstacles(name: str) -> list[object]:
    """(what blocks `name`, the error it raises, its message, what stays at `name`) for each obstacle."""
    return [
        pytest.param(_folder_at(name), IsADirectoryError, "[Errno 21] Is a directory", "folder", id="folder"),
        pytest.param(
            _read_only(name),
            PermissionError,
            "[Errno 13] Permission denied",
            "save 1",
            id="read-only",
            marks=unprivileged,
        ),
    ]


@pytest.mark.parametrize(("obstruct", "error", "reason", "left_there"), _obstacles(SUMMARY))
def test_obstacle_at_the_summary_raises_the_baselines_error_and_keeps_the_csv(
    tmp_path: Path, obstruct: Callable[[Path], None], error: type, reason: str, left_there: str
) -> None:
    attempts = _attempts(tmp_path, obstruct)
    expected_error = (error, f"{reason}: '<results>/{RUN_ID}/{SUMMARY}'")
    assert _error(attempts["baseline"], tmp_path / "baseline") == expected_error
    assert _error(attempts["optimized"], tmp_path / "optimized") == expected_error
    assert attempts["baseline"].files == attempts["optimized"].files == {CSV: "save 1", SUMMARY: left_there}
    assert attempts["proposed"].outcome.raised is None  # swallowed
    assert attempts["proposed"].files == {CSV: "save 2", SUMMARY: left_there}


@pytest.mark.divergence("atomic-save")
@pytest.mark.parametrize(("obstruct", "error", "reason", "left_there"), _obstacles(CSV))
def test_obstacle_at_the_csv_raises_and_keeps_the_previous_summary(
    tmp_path: Path, obstruct: Callable[[Path], None], error: type, reason: str, left_there: str
) -> None:
    attempts = _attempts(tmp_path, obstruct)
    expected_error = (error, f"{reason}: '<results>/{RUN_ID}/{CSV}'")
    assert _error(attempts["baseline"], tmp_path / "baseline") == expected_error
    assert attempts["baseline"].files == {CSV: left_there, SUMMARY: "save 2"}  # half of the save landed
    assert _error(attempts["optimized"], tmp_path / "optimized") == expected_error
    assert attempts["optimized"].files == {CSV: left_there, SUMMARY: "save 1"}
    assert attempts["proposed"].outcome.raised is None  # swallowed
    assert attempts["proposed"].files == {CSV: left_there, SUMMARY: "save 2"}


# --- permissions of the folders ------------------------------------------------------------------


@unprivileged
@pytest.mark.divergence("save-needs-writable-run-folder")
def test_read_only_run_folder_fails_the_save_where_the_baseline_writes_in_place(tmp_path: Path) -> None:
    attempts = _attempts(tmp_path, lambda run_dir: run_dir.chmod(0o555))
    assert attempts["baseline"].outcome.raised is None
    assert attempts["baseline"].files == {CSV: "save 2", SUMMARY: "save 2"}
    kind, message = attempts["optimized"].outcome.raised or (None, "")
    assert kind is PermissionError
    assert str(tmp_path / "optimized" / RUN_ID) in message
    assert attempts["optimized"].files == {CSV: "save 1", SUMMARY: "save 1"}


@unprivileged
def test_unwritable_results_dir_refuses_a_new_run_in_every_candidate(tmp_path: Path) -> None:
    errors = {}
    for name in CANDIDATES:
        results_dir = tmp_path / name
        results_dir.mkdir()
        results_dir.chmod(0o555)
        outcome = outcome_of(lambda: resolve(name)(RUN_ID, str(results_dir)))  # noqa: B023
        errors[name] = _error(Attempt(outcome, {}), results_dir)
        assert not (results_dir / RUN_ID).exists()
    assert errors["optimized"] == errors["baseline"] == errors["proposed"]
    assert errors["baseline"] == (PermissionError, f"[Errno 13] Permission denied: '<results>/{RUN_ID}'")


# --- the kernel's own write errors: a full file system, a read-only one (tests/common/kernel_faults.py) ---------

DISK_SIZE = 128 * 1024  # room for save 1 and save 2's summary, not for save 2's 250 KB CSV


def _full_disk(run_dir: Path) -> AbstractContextManager[Path]:
    """The run folder's files copied onto a small tmpfs mounted over it: save 2 runs out of space there."""

    @contextmanager
    def mounted() -> Iterator[Path]:
        kept = {entry.name: entry.read_bytes() for entry in run_dir.iterdir()}
        with small_disk(run_dir, DISK_SIZE):
            for name, raw in kept.items():
                (run_dir / name).write_bytes(raw)
            yield run_dir

    return mounted()


def test_a_full_file_system_raises_enospc_and_keeps_the_previous_files(tmp_path: Path) -> None:
    attempts = _attempts(tmp_path, around=_full_disk)
    baseline_error = _error(attempts["baseline"], tmp_path / "baseline")
    assert baseline_error is not None and baseline_error[0] is OSError
    assert baseline_error[1].startswith(f"[Errno {errno.ENOSPC}] No space left on device")
    assert attempts["baseline"].files[SUMMARY] == "save 2"  # half of the save landed
    assert attempts["baseline"].files[CSV].startswith("torn (")
    assert _error(attempts["optimized"], tmp_path / "optimized") == baseline_error
    assert attempts["optimized"].files == {CSV: "save 1", SUMMARY: "save 1"}  # nothing torn, no temporary left
    assert attempts["proposed"].outcome.raised is None  # swallowed
    assert any(state.startswith("torn (") for state in attempts["proposed"].files.values())


def test_a_read_only_file_system_raises_erofs_and_changes_nothing(tmp_path: Path) -> None:
    attempts = _attempts(tmp_path, around=read_only)
    baseline_error = _error(attempts["baseline"], tmp_path / "baseline")
    assert baseline_error == (OSError, f"[Errno {errno.EROFS}] Read-only file system: '<results>/{RUN_ID}/{SUMMARY}'")
    assert attempts["baseline"].files == {CSV: "save 1", SUMMARY: "save 1"}
    # Once the optimized store raised PermissionError(EACCES) here: os.access() said "not writable".
    assert _error(attempts["optimized"], tmp_path / "optimized") == baseline_error
    assert attempts["optimized"].files == {CSV: "save 1", SUMMARY: "save 1"}
    assert attempts["proposed"].outcome.raised is None  # swallowed
    assert attempts["proposed"].files == {CSV: "save 1", SUMMARY: "save 1"}
