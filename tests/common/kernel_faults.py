"""Real write failures from the kernel, on demand, as root too: no mock stands in for what it can give.

- EACCES: a test marked `unprivileged` runs, when this process would bypass permissions (root, or any process with
  CAP_DAC_OVERRIDE), in a child pytest whose capability bounding set lacks CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
  (`setpriv`): still uid 0, the owner of every file the test makes, so the owner's mode bits apply to it as to any
  user. That keeps the repository readable, as dropping to `nobody` would not in a clone under a private folder.
- ENOSPC: a size-limited tmpfs mounted on the test's folder.
- EROFS: a bind mount of the test's folder onto itself, remounted read-only.

Where the kernel will not give one (no setpriv, no right to mount), the test skips with the reason, except where the
environment requires every such test to run (tests/common/environment.py): there it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from tests.common.environment import unavailable

CAP_DAC_OVERRIDE: Final = 1
CAP_DAC_READ_SEARCH: Final = 2
DROPPED: Final = "-dac_override,-dac_read_search"
REPO_ROOT: Final = Path(__file__).resolve().parents[2]


def _effective_capabilities() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def bypasses_permissions() -> bool:
    """True where mode bits do not bind this process: root, or a process that holds CAP_DAC_OVERRIDE."""
    if sys.platform != "linux":
        return os.geteuid() == 0
    return bool(_effective_capabilities() & (1 << CAP_DAC_OVERRIDE | 1 << CAP_DAC_READ_SEARCH))


def run_unprivileged(nodeid: str) -> None:
    """Runs one test in a child pytest without the capabilities that bypass permissions; fails with its output
    unless that one test passed there."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        unavailable("running as root, and no setpriv to drop CAP_DAC_OVERRIDE for this test (util-linux)")
    command = [setpriv, f"--bounding-set={DROPPED}", "--", sys.executable, "-m", "pytest", nodeid]
    command += ["-p", "no:cacheprovider", "-q", "--no-header", "-p", "no:xdist", "-m", ""]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
    if "Operation not permitted" in done.stderr and done.returncode != 0 and "passed" not in done.stdout:
        unavailable(f"setpriv cannot drop the capabilities here: {done.stderr.strip()[:300]}")
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0 and "1 passed" in summary and "skipped" not in summary, (
        f"the test, run without CAP_DAC_OVERRIDE, did not pass:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    )


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        unavailable(f"cannot mount ({' '.join(args)}): {done.stderr.strip() or done.returncode}")


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", str(folder)], capture_output=True, text=True, check=True)


@contextmanager
def small_disk(folder: Path, size: int) -> Iterator[Path]:
    """folder on a tmpfs of `size` bytes (a multiple of the page size): a write past it fails with ENOSPC."""
    if shutil.which("mount") is None:
        unavailable("no mount command")
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
    try:
        yield folder
    finally:
        _unmount(folder)


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """folder made read-only where it is, by a read-only bind mount of itself: every write under it fails EROFS,
    and what was there stays readable."""
    if shutil.which("mount") is None:
        unavailable("no mount command")
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,bind,ro", str(folder))
        yield folder
    finally:
        _unmount(folder)
