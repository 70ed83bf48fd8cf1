"""The fault helpers themselves (tests/common/kernel_faults.py): each gives the kernel's real error, and a test run
without CAP_DAC_OVERRIDE is judged by what happened in its child."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from tests.common import kernel_faults


@pytest.mark.unprivileged
def test_an_unprivileged_test_is_bound_by_mode_bits(tmp_path: Path) -> None:
    target = tmp_path / "read-only"
    target.write_text("kept")
    target.chmod(0o444)
    assert not kernel_faults.bypasses_permissions()
    with pytest.raises(PermissionError) as raised:
        target.write_text("lost")
    assert raised.value.errno == errno.EACCES
    assert target.read_text() == "kept"


def test_a_failing_unprivileged_test_fails_its_parent(tmp_path: Path) -> None:
    if not kernel_faults.bypasses_permissions():
        pytest.skip("mode bits bind this process already: no child is started")
    failing = tmp_path / "test_fails_without_privileges.py"
    failing.write_text(
        "import os\n\ndef test_writes_a_read_only_file(tmp_path):\n"
        "    p = tmp_path / 'f'\n    p.write_text('x')\n    p.chmod(0o444)\n    p.write_text('y')\n"
    )
    with pytest.raises(AssertionError, match="did not pass"):
        kernel_faults.run_unprivileged(str(failing))


def test_a_small_disk_runs_out_of_space(tmp_path: Path) -> None:
    with kernel_faults.small_disk(tmp_path / "disk", 64 * 1024) as disk:
        with pytest.raises(OSError) as raised:
            (disk / "big").write_bytes(b"x" * 200_000)
        assert raised.value.errno == errno.ENOSPC
    assert not os.path.ismount(tmp_path / "disk")


def test_a_read_only_folder_refuses_writes_and_keeps_its_files(tmp_path: Path) -> None:
    (tmp_path / "kept").write_text("kept")
    with kernel_faults.read_only(tmp_path):
        with pytest.raises(OSError) as raised:
            (tmp_path / "new").write_text("x")
        assert raised.value.errno == errno.EROFS
        assert (tmp_path / "kept").read_text() == "kept"
    (tmp_path / "new").write_text("writable again")
