"""The import layers, the type checker and the shape of the code, in CI: nox -s lint runs the first two too, but
CI runs the tests.

Both read their settings from pyproject.toml ([tool.importlinter], [tool.mypy]), so what passes here is
what a developer's `nox -s lint` sees.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

import pytest

from tests.common.store_repository import REPO_ROOT


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed: it comes with the test extra (pip install -e '.[test]')")
    return found


def test_the_import_layers_hold() -> None:
    done = subprocess.run([_tool("lint-imports")], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "0 broken" in done.stdout


def test_the_type_checker_finds_nothing() -> None:
    command = [sys.executable, "-m", "mypy", "--cache-dir", "/dev/null"]  # [tool.mypy] names the files
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert done.stdout.startswith("Success: no issues found")


LONGEST: Final = 450  # lines; a module past it has more than one job
ONE_FILE: Final = REPO_ROOT / "storage" / "optimized.py"  # the drop-in: one file the application copies


def test_no_module_is_longer_than_a_reader_holds_in_mind() -> None:
    modules = [path for path in REPO_ROOT.rglob("*.py") if not {".nox", "mutants", ".git"} & set(path.parts)]
    long = {
        str(p.relative_to(REPO_ROOT)): n
        for p in modules
        if p != ONE_FILE and (n := len(p.read_text().splitlines())) > LONGEST
    }
    assert modules and long == {}


def test_only_bench_model_git_runs_git() -> None:
    """One owner for git: its exit codes, its messages, a missing git as ToolMissing."""
    runs_git = re.compile(r"""\[\s*["']git["']""")
    callers = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "bench").rglob("*.py"))
        if runs_git.search(path.read_text())
    ]
    assert callers == ["bench/model/git.py"]


# Where the harness writes a file in place, on purpose: a temporary or a fixture nobody reads until it is whole.
IN_PLACE_WRITES: Final = {
    "bench/model/results.py",  # write_atomically itself: the temporary it renames
    "bench/model/fixtures.py",  # a fixture is built in a staging folder, renamed into place when complete
    "bench/model/operations.py",  # the spare summaries a refresh benchmark swaps: inputs, not results
    "bench/stores/deployment.py",  # an empty __init__.py in a temporary application layout
    "bench/jobs/site_history.py",  # a generated history, written before anything reads it
    "bench/stores/snapshot.py",  # a snapshot's JSON in the worker's temporary folder
    "bench/runners/instructions.py",  # the same, for the counting worker
    "bench/runners/profiles.py",  # the same, and the profile a worker hands back, for the profiling worker
    "bench/jobs/mutants_quick.py",  # the pyproject.toml of the checkout's copy the quick pass's mutants run in
    "bench/model/floors.py",  # the floors' own writes: the least work a store's save needs, timed
}


def test_every_result_file_is_written_atomically() -> None:
    """A result, report or figure goes through bench.model.results.write_atomically: SIGKILL mid-write leaves the
    old file or the new one. Before, REPORT.md, GATE.md, RELIABILITY.md, MUTATION.md, the figures, the
    saved ratios, the count calibration and the --markdown summaries were written in place."""
    in_place = re.compile(r"\.write_text\(|\.write_bytes\(|\.savefig\([^,)]+\)|open\([^)]*[\"']w")
    writers = {
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "bench").rglob("*.py"))
        if in_place.search(path.read_text())
    }
    assert writers <= IN_PLACE_WRITES, sorted(writers - IN_PLACE_WRITES)


def test_results_hold_results_not_code() -> None:
    """results/ is what was measured and the reports made from it; what made them lives in bench/ and scripts/."""
    code = sorted(
        str(path.relative_to(REPO_ROOT))
        for path in (REPO_ROOT / "results").rglob("*")
        if path.suffix in (".py", ".sh") and "latest" not in path.parts and "site" not in path.parts
    )
    assert (REPO_ROOT / "results").is_dir() and code == []
