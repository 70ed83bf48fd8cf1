"""Temporary git repositories holding commits of this repository's storage/ package, for gate and history tests."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def commit(repo: Path, message: str) -> str:
    """Commits storage/ as it is in the repository's work tree; returns the new commit's sha."""
    git(repo, "add", "storage")
    git(repo, "-c", "user.name=test", "-c", "user.email=test@example.invalid", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def new_repository(folder: Path) -> Path:
    """A git repository in folder with a copy of storage/ in its work tree, nothing committed yet."""
    git(folder, "init", "-q")
    shutil.copytree(REPO_ROOT / "storage", folder / "storage", ignore=shutil.ignore_patterns("__pycache__"))
    return folder
