"""What fsync=True costs a save: the optimized store with and without it, interleaved (the soak's benchmark).

Both stores run the operations table's save_latency_stats case through bench.runners.pyperf_storage, so the
set-up, the answer check and the names are the main suite's; the main job's runner alternates their
worker processes round by round. Saves go to the temporary folder ($TMPDIR): fsync costs what that file
system makes it cost. bench.report.reliability turns the two files into a median ratio with its interval.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Final

from bench.model.fixtures import Fixtures
from bench.model.operations import find_case
from bench.runners.suites import Clock, Mode, run_pyperf
from bench.stores.candidates import label
from storage import optimized

PLAIN: Final = "optimized"
FSYNCED: Final = "bench.runners.fsync:FsyncedMetricsStorage"
SIZES: Final = (1_000, 10_000)


class FsyncedMetricsStorage(optimized.MetricsStorage):
    """The optimized store with fsync=True, as a candidate bench.runners.pyperf_storage can name."""

    def __init__(self, run_id: str, results_dir: str = optimized.DEFAULT_RESULTS_DIR) -> None:
        super().__init__(run_id, results_dir, fsync=True)


def _file_system_of(path: str) -> str:
    """The type of the mount holding path, from /proc/mounts where there is one."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts") as mounts:
            for line in mounts:
                _, mount_point, fs_type, *_ = line.split()
                if (path == mount_point or path.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) > len(
                    best
                ):
                    best, kind = mount_point, fs_type
    except FileNotFoundError:
        pass  # not Linux: the type stays unknown, and says so
    return kind


def measure(output: Path, rounds: int, values: int, fixtures: Fixtures) -> None:
    """Both stores' pyperf files into output/, written whole: a failed run leaves the previous ones."""
    save, _ = find_case(f"save_latency_stats[{SIZES[0]}]")
    mode = Mode(processes=2 * rounds, values=values, rounds=rounds, pytest_options=())
    bench_run = f"fsync-{datetime.now():%Y%m%dT%H%M%S}-{os.urandom(3).hex()}"
    staging = output.parent / f".staging-{bench_run}"
    temp_dir = tempfile.gettempdir()
    print(f"{bench_run}: saves in {temp_dir} ({_file_system_of(temp_dir)}), load {os.getloadavg()[0]:.2f}")
    run_pyperf([(save, size) for size in SIZES], [PLAIN, FSYNCED], mode, fixtures, staging, bench_run, Clock())
    output.mkdir(parents=True, exist_ok=True)
    for spec in (PLAIN, FSYNCED):
        name = f"{label(spec)}.json"
        os.replace(staging / "pyperf" / name, output / name)
    shutil.rmtree(staging)
