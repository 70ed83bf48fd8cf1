"""The import layers and the type checker, in CI: nox -s lint runs them too, but CI runs the tests.

Both read their settings from pyproject.toml ([tool.importlinter], [tool.mypy]), so what passes here is
what a developer's `nox -s lint` sees.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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
