"""What fsync=True costs a save: the optimized store with and without it, interleaved, as a median ratio.

    python -m bench.pyperf_fsync                      # save_latency_stats[1000] and [10000], 6 rounds
    python -m bench.pyperf_fsync --rounds 10 --output results/pyperf-fsync

Both stores run the operations table's save_latency_stats case through bench.pyperf_storage, so the
set-up, the answer check and the names are the main suite's; bench's own runner alternates their
worker processes round by round. The cost is the median of the paired per-process ratios
(fsync time / plain time) with bench.stats' bootstrap interval. Saves go to the temporary folder
($TMPDIR): fsync costs what that file system makes it cost.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from bench.__main__ import Clock, Mode, run_pyperf
from bench.candidates import label
from bench.fixtures import DEFAULT_SEED, Fixtures, default_cache_dir
from bench.operations import find_case
from bench.stats import RatioInterval, ratio_interval
from bench.summary import load_pyperf
from storage import optimized

PLAIN: Final = "optimized"
FSYNCED: Final = "bench.pyperf_fsync:FsyncedMetricsStorage"
SIZES: Final = (1_000, 10_000)
DEFAULT_OUTPUT: Final = Path("results/pyperf-fsync")
WORTH_AN_OPTION: Final = 1.10  # the bar: above a 10% cost, fsync must be an explicit option


class FsyncedMetricsStorage(optimized.MetricsStorage):
    """The optimized store with fsync=True, as a candidate bench.pyperf_storage can name."""

    def __init__(self, run_id: str, results_dir: str = optimized.DEFAULT_RESULTS_DIR) -> None:
        super().__init__(run_id, results_dir, fsync=True)


@dataclass(frozen=True)
class FsyncCost:
    size: int
    plain_median_s: float
    fsynced_median_s: float
    ratio: RatioInterval  # fsync time / plain time, per pair of processes run next to each other


def fsync_costs(pyperf_dir: Path) -> list[FsyncCost]:
    """The cost at each size, from the two pyperf files a run left in pyperf_dir."""
    plain = load_pyperf(pyperf_dir / f"{label(PLAIN)}.json")
    fsynced = load_pyperf(pyperf_dir / f"{label(FSYNCED)}.json")
    costs = []
    for name in sorted(plain, key=lambda name: find_case(name)[1]):
        # ratio_interval(candidate, baseline) is baseline / candidate: here fsynced / plain.
        ratio = ratio_interval(plain[name].process_medians, fsynced[name].process_medians)
        costs.append(FsyncCost(find_case(name)[1], plain[name].median, fsynced[name].median, ratio))
    return costs


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pyperf_fsync", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (2 worker processes each)")
    parser.add_argument("--values", type=int, default=3, help="values per worker process")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"folder (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--fixture-seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--fixture-cache", type=Path, default=default_cache_dir())
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.values < 1:
        parser.error(f"--rounds {args.rounds} and --values {args.values} must both be at least 1")

    save, _ = find_case(f"save_latency_stats[{SIZES[0]}]")
    mode = Mode(processes=2 * args.rounds, values=args.values, rounds=args.rounds, pytest_options=())
    bench_run = f"fsync-{datetime.now():%Y%m%dT%H%M%S}-{os.urandom(3).hex()}"
    staging = args.output.parent / f".staging-{bench_run}"
    temp_dir = tempfile.gettempdir()
    print(f"{bench_run}: saves in {temp_dir} ({_file_system_of(temp_dir)}), load {os.getloadavg()[0]:.2f}")
    fixtures = Fixtures(args.fixture_seed, args.fixture_cache)
    run_pyperf([(save, size) for size in SIZES], [PLAIN, FSYNCED], mode, fixtures, staging, bench_run, Clock())

    args.output.mkdir(parents=True, exist_ok=True)
    for spec in (PLAIN, FSYNCED):
        name = f"{label(spec)}.json"
        os.replace(staging / "pyperf" / name, args.output / name)
    shutil.rmtree(staging)
    for cost in fsync_costs(args.output):
        r = cost.ratio
        bar = "over" if r.estimate > WORTH_AN_OPTION else "under"
        print(
            f"save_latency_stats[{cost.size}]: plain {cost.plain_median_s * 1e3:.2f} ms, "
            f"fsync {cost.fsynced_median_s * 1e3:.2f} ms; fsync/plain {r.estimate:.3f} "
            f"[{r.low:.3f}, {r.high:.3f}] over {r.pairs} pairs ({bar} the {WORTH_AN_OPTION:.2f} bar)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
