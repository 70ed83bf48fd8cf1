"""A disk that fills up mid-save: saves once, then again under RLIMIT_FSIZE, and reports what the call did.

RLIMIT_FSIZE makes any write past the limit fail with EFBIG (SIGXFSZ is ignored, so the process
lives on to see the error), as a full disk fails with ENOSPC. It prints one JSON line:
{"raised": <exception class name or null>, "errno": <errno or null>}.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal

from storage import resolve
from tests.common.tagged_collectors import tagged_collector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("candidate", help='a registered name or "pkg.mod:Class"')
    parser.add_argument("results_dir")
    parser.add_argument("run_id")
    parser.add_argument("--limit", type=int, required=True, help="largest file size allowed, in bytes")
    parser.add_argument("--size", type=int, required=True, help="measurements in the save that hits the limit")
    args = parser.parse_args()

    store = resolve(args.candidate)(args.run_id, args.results_dir)
    store.save_latency_stats(tagged_collector(0, 1, 10))  # the previous, complete files
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (args.limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        store.save_latency_stats(tagged_collector(0, 2, args.size))
    except OSError as e:
        print(json.dumps({"raised": type(e).__name__, "errno": e.errno}))
        return
    print(json.dumps({"raised": None, "errno": None}))


if __name__ == "__main__":
    main()
