"""One-off experiment behind issue 13's closing note: does a busy gap before a save make that save faster?

The gate's planted +10% on saves (a busy-wait of 10% of each call's own duration) measured only +8.3% at
10,000 measurements. One guess was that the wait gives the previous save's writeback time to finish, so
the next save runs faster. This times the optimized store's save with a busy gap of 0%, 10% and 50% of a
typical save before each one, the gaps interleaved in blocks of 5 saves (order reversed every block).
Each block gives a ratio per gap (its 5 saves' median over the no-gap saves' median in the same block);
the result is the median block ratio with a percentile-bootstrap 95% interval (bench.model.stats).

    python scripts/experiments/save_gap.py [size] [blocks]     # a timing job: nothing else on the CPU

Its output on 2026-12-01 is results/experiments/save_gap.txt. Not part of the harness: nothing imports it.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.gate.planted import spin
from bench.model.fixtures import Fixtures
from bench.model.stats import ratio_interval
from storage import CANDIDATES, collector_class_for

GAPS = (0.0, 0.1, 0.5)


def main(size: int, blocks: int) -> None:
    store_class = CANDIDATES["optimized"]
    collector = Fixtures().collector(size, collector_class_for(store_class))
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        store = store_class("gap", results_dir="results")

        def save() -> float:
            started = time.perf_counter()
            store.save_latency_stats(collector)
            return time.perf_counter() - started

        for _ in range(10):
            save()
        typical = statistics.median(save() for _ in range(10))
        blocks_of: dict[float, list[float]] = {gap: [] for gap in GAPS}  # per block: its median save
        for block in range(blocks):
            for gap in GAPS if block % 2 else reversed(GAPS):
                durations = []
                for _ in range(5):
                    spin(gap * typical)
                    durations.append(save())
                blocks_of[gap].append(statistics.median(durations))
    for gap, medians in blocks_of.items():
        ratio = ratio_interval(blocks_of[0.0], medians)  # "baseline / candidate": gap's save / no gap's save
        print(
            f"size {size}: busy gap {gap:.0%} of a save before each save: median save "
            f"{statistics.median(medians) * 1e3:.3f} ms, {ratio.estimate:.3f}x [{ratio.low:.3f}, {ratio.high:.3f}] "
            f"of no gap's in the same block, {blocks} blocks"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, int(sys.argv[2]) if len(sys.argv) > 2 else 40)
