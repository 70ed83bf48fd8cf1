"""The workflow users copy passes actionlint and GitHub's workflow schema, and runs what the README says.

Both tools come with the test extra, so CI (`nox -s tests`) checks the workflow on every run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common.store_repository import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "perf.yml"


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed: it comes with the test extra (pip install -e '.[test]')")
    return found


def test_the_workflow_passes_actionlint() -> None:
    done = subprocess.run([_tool("actionlint"), str(WORKFLOW)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflow_follows_githubs_workflow_schema() -> None:
    command = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_pull_request_job_gates_against_the_merge_base_and_publishes_its_summary() -> None:
    text = WORKFLOW.read_text()
    gate_job = text.split("\n  gate:\n", 1)[1].split("\n  history:\n", 1)[0]
    assert "fetch-depth: 0" in gate_job  # the gate reads the merge base's store from history
    assert "git merge-base" in gate_job and 'gate --against "$base"' in gate_job
    assert "--markdown results/latest/gate.md" in gate_job and "--json results/latest/gate.json" in gate_job
    assert "actions/upload-artifact" in gate_job and "gh pr comment" in gate_job
