"""The workflows users copy pass actionlint and GitHub's workflow schema, and run what the READMEs say: this
repository's own, and the one for the application's repository (examples/metrics-store-perf.yml).

Both tools come with the test extra, so CI (`nox -s tests`) checks the workflows on every run.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.common.store_repository import REPO_ROOT

WORKFLOW = REPO_ROOT / ".github" / "workflows" / "perf.yml"
APPLICATION_WORKFLOW = REPO_ROOT / "examples" / "metrics-store-perf.yml"
WORKFLOWS = pytest.mark.parametrize("workflow", [WORKFLOW, APPLICATION_WORKFLOW], ids=["perf", "application"])


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed: it comes with the test extra (pip install -e '.[test]')")
    return found


@WORKFLOWS
def test_the_workflow_passes_actionlint(workflow: Path) -> None:
    done = subprocess.run([_tool("actionlint"), str(workflow)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@WORKFLOWS
def test_the_workflow_follows_githubs_workflow_schema(workflow: Path) -> None:
    command = [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(workflow)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_pull_request_job_gates_against_the_merge_base_and_publishes_its_summary() -> None:
    text = WORKFLOW.read_text()
    gate_job = text.split("\n  gate:\n", 1)[1].split("\n  history:\n", 1)[0]
    assert "fetch-depth: 0" in gate_job  # the gate reads the merge base's store from history
    assert "git merge-base" in gate_job and 'gate --against "$base"' in gate_job
    assert "--markdown results/latest/gate.md" in gate_job and "--json results/latest/gate.json" in gate_job
    assert "actions/upload-artifact" in gate_job and "gh pr comment" in gate_job


def test_the_applications_workflow_gates_its_store_against_the_merge_base_with_a_pinned_tool() -> None:
    text = APPLICATION_WORKFLOW.read_text()
    on_pull_request = text.split("\non:\n", 1)[1].split("\npermissions:", 1)[0]
    assert '"src/astraguard/hil/metrics/**"' in on_pull_request.split("paths:", 1)[1]  # only when the store's folder
    install = next(line for line in text.splitlines() if line.strip().startswith("METRICS_STORE_BENCH:"))
    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"@v{version}" in install and "git+https://" in install  # a tag of this repository: this version
    assert "fetch-depth: 0" in text and "git merge-base" in text
    assert 'metrics-store-bench gate --store "$STORE" --against "$base"' in text
    assert "--markdown .metrics-store-bench/gate.md" in text and "gh pr comment" in text
