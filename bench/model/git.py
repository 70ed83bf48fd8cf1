"""Every git command the harness runs goes through here: one place that knows git's exit codes and messages.

A missing git is ToolMissing (exit 2, with a message), never a FileNotFoundError's traceback; a command git
refuses is a UsageError naming it, unless the caller asks for the status itself (`check=False`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bench.errors import ToolMissing, UsageError
from bench.model.results import INSTALLED, REPO_ROOT


def _run(repo: Path, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    if shutil.which("git") is None:
        raise ToolMissing("git is not installed: the harness reads revisions and history with it")
    # Sources are UTF-8 (PEP 3120); a byte that is not decodes to U+FFFD, and such a file fails to compile, named.
    command = ["git", "-C", str(repo), *args]
    return subprocess.run(command, capture_output=True, encoding="utf-8", errors="replace", check=False)


def output(repo: Path, *args: str) -> str:
    """git's standard output; a UsageError with git's own message when it fails."""
    done = _run(repo, args)
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {done.stderr.strip() or f'exit {done.returncode}'}")
    return done.stdout


def succeeds(repo: Path, *args: str) -> bool:
    """Whether git exits 0 (a question git answers with its status, such as `diff --quiet`)."""
    return _run(repo, args).returncode == 0


def toplevel(folder: Path) -> Path | None:
    """The work tree holding folder, or None when it lies in none."""
    done = _run(folder, ("rev-parse", "--show-toplevel"))
    return Path(done.stdout.strip()) if done.returncode == 0 else None


def repository(given: Path | None = None) -> Path:
    """The work tree whose revisions are named: --repo, else the one holding the current folder.

    A checkout run from outside any work tree falls back on itself, as it always has.
    """
    if given is not None:
        found = toplevel(given) if given.is_dir() else None
        if found is None:
            raise UsageError(f"--repo {given}: not a folder in a git work tree")
        return found
    found = toplevel(Path.cwd())
    if found is None and not INSTALLED:
        found = toplevel(REPO_ROOT)
    if found is None:
        raise UsageError(f"{Path.cwd()} is not in a git work tree: run in the application's repository, or give --repo")
    return found


def commit_of(repo: Path, rev: str) -> str | None:
    """The full hash `rev` names, or None when it names no commit of repo."""
    done = _run(repo, ("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"))
    return done.stdout.strip() if done.returncode == 0 else None


def head(repo: Path) -> str:
    return output(repo, "rev-parse", "HEAD").strip()


def tree_files(repo: Path, commit: str) -> list[str]:
    """Every file of the commit's tree (paths from the root)."""
    return [path for path in output(repo, "ls-tree", "-r", "-z", "--name-only", commit).split("\0") if path]


def show(repo: Path, commit: str, path: str) -> str:
    """A file's text at commit."""
    return output(repo, "show", f"{commit}:{path}")


def changed(repo: Path, paths: Sequence[str] = (), *, untracked: bool = True) -> list[str]:
    """`git status --porcelain` lines for paths (none: the whole tree): uncommitted changes, staged or not, and
    untracked files unless `untracked` is False. The one way the harness asks whether a tree is dirty."""
    which = "normal" if untracked else "no"
    return output(repo, "status", "--porcelain", f"--untracked-files={which}", "--", *paths).splitlines()


def describe_head(repo: Path) -> str:
    """HEAD's hash, with ' (uncommitted changes)' when the work tree differs from it; 'unknown' outside git."""
    done = _run(repo, ("rev-parse", "HEAD"))
    if done.returncode != 0:
        return "unknown"
    return done.stdout.strip() + (" (uncommitted changes)" if changed(repo) else "")
