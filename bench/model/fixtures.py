"""Seeded inputs for both suites: collectors, saved runs and result trees, built once and cached on disk.

Everything here is a pure function of (size, seed, FORMAT_VERSION): two machines with the same
seed benchmark the same bytes, and the cache key changes whenever a builder's output would.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from bench.model import progress
from storage import CANDIDATES, LatencyCollector

FORMAT_VERSION: Final = 2  # bump whenever a builder below changes what it writes
DEFAULT_SEED: Final = 20260102
COLLECTOR_SIZES: Final = (1_000, 5_000, 10_000)
TREE_SIZES: Final = (100, 1_000, 10_000)
# --sizes large adds a decade to each, for the scaling exponents: opt-in, since they take minutes to build.
LARGE_COLLECTOR_SIZES: Final = (100_000,)
LARGE_TREE_SIZES: Final = (100_000,)
SUMMARY_NAME: Final = "latency_summary.json"
CACHE_ENV: Final = "METRICS_STORE_BENCH_CACHE"

SATELLITES: Final = tuple(f"SAT-{n:03d}" for n in range(1, 9))
# (recorder, share of measurements, median ms, lognormal sigma): detection is quick, recovery slow and spread.
_METRIC_MIX: Final = (
    ("record_fault_detection", 0.45, 35.0, 0.7),
    ("record_agent_decision", 0.35, 120.0, 0.45),
    ("record_recovery_action", 0.20, 800.0, 0.9),
)
_SPIKE_SHARE: Final = 0.01  # retries and GC pauses: the tail that p99 and max are there to show
_EPOCH: Final = datetime(2025, 1, 6, 8, 0, 0, tzinfo=UTC)  # measurements and files carry it, not the build's clock
_EPOCH_S: Final = _EPOCH.timestamp()
_PROGRESS_FROM: Final = 10_000  # trees this large or larger report progress while they build


def default_cache_dir() -> Path:
    """$METRICS_STORE_BENCH_CACHE, else the XDG cache folder: outside the repository, shared by runs."""
    if explicit := os.environ.get(CACHE_ENV):
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "metrics-store-bench"


def build_collector(size: int, seed: int, collector_class: type = LatencyCollector) -> Any:
    """A collector of `size` measurements, of the class a store's fast path is keyed to (collector_class_for)."""
    rng = random.Random(f"collector/{size}/{seed}")
    collector = collector_class()
    recorders = [getattr(collector, name) for name, _, _, _ in _METRIC_MIX]
    shares = [share for _, share, _, _ in _METRIC_MIX]
    # Zipf-like activity: the first satellites report far more than the last ones.
    satellite_weights = [1 / rank for rank in range(1, len(SATELLITES) + 1)]
    scenario_s = 0.0
    for _ in range(size):
        kind = rng.choices(range(len(_METRIC_MIX)), shares)[0]
        _, _, median_ms, sigma = _METRIC_MIX[kind]
        duration_ms = rng.lognormvariate(math.log(median_ms), sigma)
        if rng.random() < _SPIKE_SHARE:
            duration_ms *= rng.uniform(3.0, 10.0)
        scenario_s += rng.expovariate(20.0)
        satellite = rng.choices(SATELLITES, satellite_weights)[0]
        recorders[kind](satellite, scenario_s, duration_ms)
    for measurement in collector.measurements:
        # record_* stamps time.time(): replace it so the CSV bytes depend on the seed alone.
        measurement.timestamp = _EPOCH_S + measurement.scenario_time_s
    return collector


def _say(message: str) -> None:
    print(f"fixtures: {message}", file=sys.stderr, flush=True)


def publish(build: Callable[[Path], object], final: Path) -> Path:
    """Builds into a private folder and renames it into place: a reader never sees half a fixture."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = final.parent / f".building-{final.name}-{os.getpid()}-{os.urandom(4).hex()}"
    staging.mkdir()
    try:
        build(staging)
        try:
            os.rename(staging, final)
        except OSError:
            if not final.is_dir():
                raise
            # Another process published the same fixture first; theirs is identical.
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return final


def _run_names(size: int, rng: random.Random) -> list[str]:
    """Names as the tool makes them, a few minutes to a few hours apart, so name order is start order."""
    names = []
    started = _EPOCH
    for _ in range(size):
        started += timedelta(seconds=rng.randint(60, 6 * 3600))
        names.append(started.strftime("run_%Y%m%d_%H%M%S"))
    return names


def _plain_file_names(size: int) -> list[str]:
    # Some sort above every run_* name ("runs_…", "summary…", "zz…"), so get_recent_runs meets them first.
    names = ["README.txt", "archive_2024.tar", "runs_index.csv", "summary_export.json", "zz_notes.txt"]
    names += [f"zz_export_{n:03d}.csv" for n in range(size // 2_000)]
    return names


def _write_tree(root: Path, size: int, seed: int) -> dict[str, int]:
    rng = random.Random(f"tree/{size}/{seed}")
    names = _run_names(size, rng)
    without_summary = set(rng.sample(range(size), size // 7))
    # Modification times are a shuffle of the start order (runs copied back from an archive, re-saved ...),
    # so "newest name" and "newest file" disagree, which is where the proposal's answer differs.
    ages = list(range(size))
    rng.shuffle(ages)
    creation_order = list(range(size))
    rng.shuffle(creation_order)
    chunk = max(size // 100, 1)  # a progress step per 1% of the folders
    with progress.task(f"result tree of {size:,} folders", -(-size // chunk)) as step:
        for done, index in enumerate(creation_order):
            if done % chunk == 0:
                step(f"{done:,}/{size:,}")
            folder = root / names[index]
            folder.mkdir()
            mtime = _EPOCH_S + 300.0 * ages[index]
            if index not in without_summary:
                summary = folder / SUMMARY_NAME
                summary.write_text(json.dumps({"run_id": names[index], "total_measurements": 0, "metrics": {}}))
                os.utime(summary, (mtime, mtime))
            os.utime(folder, (mtime, mtime))
    plain_files = _plain_file_names(size)
    for name in plain_files:
        (root / name).write_text("not a run\n")
        os.utime(root / name, (_EPOCH_S, _EPOCH_S))
    return {
        "entries": size + len(plain_files),
        "runs_with_summary": size - len(without_summary),
        "plain_files": len(plain_files),
    }


# The optimized store's cache trusts a file only once its inode is 50 ms old (racy-write guard): a case's first
# answer is checked this long after its saved runs were installed, so a warm read is warm from the first call.
SETTLE_S: Final = 0.1


class _Settling:
    """When the files installed last are old enough to be cached: one wait for every case set up before it."""

    def __init__(self) -> None:
        self.ready_at = 0.0

    def installed(self) -> None:
        self.ready_at = time.monotonic() + SETTLE_S

    def wait(self) -> None:
        time.sleep(max(0.0, self.ready_at - time.monotonic()))


@dataclass(frozen=True)
class Fixtures:
    """The seed and the cache folder: the one value both suites (and their worker processes) build from."""

    seed: int = DEFAULT_SEED
    cache: Path = field(default_factory=default_cache_dir)
    _settling: _Settling = field(default_factory=_Settling, compare=False, repr=False)

    def wait_for_cacheable(self) -> None:
        """Waits, untimed, until the saved runs installed last are SETTLE_S old (at once when they are)."""
        self._settling.wait()

    def provenance(self) -> dict[str, int]:
        return {"fixture_seed": self.seed, "fixture_version": FORMAT_VERSION}

    def collector(self, size: int, collector_class: type = LatencyCollector) -> Any:
        """A fresh collector each call: a store that mutated one could not skew the next measurement."""
        return build_collector(size, self.seed, collector_class)

    def result_tree(self, size: int) -> Path:
        """A results_dir of `size` run folders (1 in 7 without a summary, a few plain files), built once."""
        entry = self.cache / f"tree-v{FORMAT_VERSION}-seed{self.seed}-{size}"
        manifest_path = entry / "manifest.json"
        if not entry.is_dir():
            if size >= _PROGRESS_FROM:
                _say(f"building the result tree of {size:,} folders once (cached in {entry})")

            def build(staging: Path) -> None:
                (staging / "results").mkdir()
                counts = _write_tree(staging / "results", size, self.seed)
                manifest = {"size": size, "seed": self.seed, "version": FORMAT_VERSION, **counts}
                (staging / "manifest.json").write_text(json.dumps(manifest, indent=2))

            publish(build, entry)
        root = entry / "results"
        expected = json.loads(manifest_path.read_text())["entries"]
        found = len(os.listdir(root))
        if found != expected:
            raise RuntimeError(
                f"cached result tree {root} holds {found} entries, its manifest says {expected}: delete it"
            )
        return root

    def saved_runs(self, size: int) -> tuple[Path, str, str]:
        """Two runs of `size` measurements saved by the baseline (different seeds), as (results_dir, run_a, run_b)."""
        entry = self.cache / f"saved-v{FORMAT_VERSION}-seed{self.seed}-{size}"
        run_a, run_b = f"saved_{size}_a", f"saved_{size}_b"
        if not entry.is_dir():

            def build(staging: Path) -> None:
                for run_id, seed in ((run_a, self.seed), (run_b, self.seed + 1)):
                    CANDIDATES["baseline"](run_id, results_dir=str(staging)).save_latency_stats(
                        build_collector(size, seed)
                    )

            publish(build, entry)
        return entry, run_a, run_b

    def install_saved_runs(self, size: int, results_dir: Path) -> tuple[str, str]:
        """Copies both saved runs into results_dir (a store may write there) and returns their run ids."""
        source, run_a, run_b = self.saved_runs(size)
        for run_id in (run_a, run_b):
            shutil.copytree(source / run_id, results_dir / run_id)
        self._settling.installed()  # the wait is wait_for_cacheable()'s, once for every case set up meanwhile
        return run_a, run_b
