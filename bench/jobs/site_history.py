"""A generated history for the dashboard's tests and its cost (`site-cost`): point files as `history` writes them,
with a step, a gap and an answer change planted at known commits, so a test knows what each page must draw.

Each point's processes are drawn from a seeded generator: the store at 0.5 of the original's time, about 1% apart
process to process, timed beside the commit before it; from the planted commit on, STEPPED's level is STEP times
higher on every machine. One commit could not serve
(SKIPPED_REASON), and from DIFFER_AT on the store's get_run_metrics answers otherwise than the original. Nothing
here measures anything, and nothing lies in a git repository: the commits' shas are made up.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.history.points import Point, record_timings
from bench.model.answer_record import AnswerRecord
from bench.model.fixtures import FORMAT_VERSION
from bench.runners.interleaved import ProcessTiming, Timings
from bench.stores.candidates import BASELINE, source_sha256

BENCHMARKS: Final = (
    "save_latency_stats[1000]",
    "save_latency_stats[5000]",
    "save_latency_stats[10000]",
    "get_run_metrics_cold[5000]",
    "get_run_metrics_warm[5000]",
    "compare_runs[5000]",
    "get_recent_runs[100]",
    "get_recent_runs[1000]",
    "get_recent_runs[10000]",
)
STEP: Final = 1.6
SKIPPED_REASON: Final = "cannot be imported: ModuleNotFoundError: No module named 'exporter' (storage.py:10)"
STEPPED: Final = "get_recent_runs[1000]"  # the benchmark whose level steps up at the planted commit
PROCESSES: Final = 4


@dataclass(frozen=True)
class Planted:
    """What a generated history holds, for the tests to check the site against."""

    folder: Path
    shas: list[str]  # oldest first
    machines: list[str]
    benchmarks: tuple[str, ...]
    step_at: int  # index in shas of the first commit of the higher level
    skipped_at: int
    differ_from: int  # from this commit on, get_run_metrics' answers differ


def sha_of(index: int) -> str:
    return hashlib.sha1(f"generated commit {index}".encode()).hexdigest()


def machine_id(index: int) -> str:
    return hashlib.sha256(f"machine {index}".encode()).hexdigest()[:10]


def _timings(rng: random.Random, name: str, level: float, before: float | None) -> Timings:
    """Four processes: the baseline at 1 ms a call, this commit at `level` of it, the one before at `before`."""
    processes = []
    for _ in range(PROCESSES):
        baseline = 1e-3 * rng.gauss(1.0, 0.01)
        drift = rng.gauss(1.0, 0.01)  # what the process does to every arm alike
        candidate = baseline * level * drift * rng.gauss(1.0, 0.005)
        reference = None if before is None else baseline * before * drift * rng.gauss(1.0, 0.005)
        processes.append(ProcessTiming(candidate, baseline, reference))
    return Timings(name, tuple(processes), 6, 20260102)


def write_history(
    folder: Path,
    commits: int = 24,
    machines: int = 2,
    benchmarks: Sequence[str] = BENCHMARKS,
    seed: int = 7,
    *,
    step_at: int | None = None,
    skipped_at: int | None = None,
    differ_from: int | None = None,
) -> Planted:
    """Writes a point per commit and machine under folder (history's file names and format)."""
    folder.mkdir(parents=True, exist_ok=True)
    step_at = commits * 2 // 3 if step_at is None else step_at
    skipped_at = commits // 3 if skipped_at is None else skipped_at
    differ_from = commits - 2 if differ_from is None else differ_from
    rng = random.Random(seed)
    control = source_sha256(BASELINE)
    shas = [sha_of(i) for i in range(commits)]
    ids = [machine_id(m) for m in range(machines)]

    def level(name: str, index: int) -> float:
        return 0.5 * (STEP if name == STEPPED and index >= step_at else 1.0)

    for index, sha in enumerate(shas):
        previous = next((i for i in range(index - 1, -1, -1) if i != skipped_at), None)
        for machine in ids:
            differs = index >= differ_from
            point = Point(
                commit=sha,
                date=f"2026-{1 + index // 28 % 12:02d}-{1 + index % 28:02d}T12:00:00+00:00",
                subject=f"commit {index}: change <b>{index}</b> & more",  # markup that must come out as text
                generation=index + 1,
                machine={
                    "id": machine,
                    "cpu": "generated",
                    "cores": 2,
                    "python": "3.11.7",
                    "implementation": "CPython",
                    "system": "Linux x86_64",
                },
                measured="2026-12-05T00:00:00+0000",
                provenance={"baseline_sha256": control, "fixture_seed": 20260102, "fixture_version": FORMAT_VERSION},
                settings={"processes": PROCESSES, "rounds": 6, "looks": [PROCESSES, 2 * PROCESSES, 3 * PROCESSES]},
                store={"path": "storage.py", "class": "MetricsStorage", "collector": "latency.py:LatencyCollector"},
                previous=None if previous is None or index == skipped_at else shas[previous],
            )
            if index == skipped_at:
                point.skipped = SKIPPED_REASON
            else:
                for name in benchmarks:
                    before = None if previous is None else level(name, previous)
                    record_timings(point, _timings(rng, name, level(name, index), before))
                point.equivalence = AnswerRecord(
                    "differs" if differs else "identical",
                    ("get_run_metrics",) if differs else (),
                    first_counterexample="get_run_metrics: ['total_measurements']: 3 != 595" if differs else None,
                )
            path = folder / f"{sha[:12]}-{machine}.json"
            path.write_text(json.dumps(point.to_json()) + "\n")
    return Planted(folder, shas, ids, tuple(benchmarks), step_at, skipped_at, differ_from)
