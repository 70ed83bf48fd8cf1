"""The process the crash test kills: saves tagged collectors to one run, back to back, until it dies.

It prints "ready" once imported, then each seq right after its save returns (flushed, so the
parent knows which saves completed even after a SIGKILL). With --die-between-replaces it
SIGKILLs itself between the summary's and the CSV's os.replace() of its first save.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import sys

from storage import resolve
from tests.common.tagged_collectors import tagged_collector


def _die_on_second_replace() -> None:
    real_replace = os.replace
    calls = itertools.count(1)

    def replace(src: str, dst: str) -> None:
        if next(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    os.replace = replace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("results_dir")
    parser.add_argument("run_id")
    parser.add_argument("--first", type=int, required=True, help="seq of the first save")
    parser.add_argument("--size", type=int, required=True, help="measurements per save")
    parser.add_argument("--candidate", default="optimized", help='a registered name or "pkg.mod:Class"')
    parser.add_argument("--die-between-replaces", action="store_true")
    args = parser.parse_args()

    store = resolve(args.candidate)(args.run_id, args.results_dir)
    if args.die_between_replaces:
        _die_on_second_replace()
    print("ready", flush=True)
    for seq in itertools.count(args.first):
        store.save_latency_stats(tagged_collector(0, seq, args.size))
        sys.stdout.write(f"{seq}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
