"""The proposal's claims about how its stores work (a read with one system call fewer, a save that writes JSON and
CSV in parallel), counted: each store's calls per call of the builtins that reach the operating system, from one
profiled worker per store and benchmark (bench.runners.profiles). Counts are exact: no interval."""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bench.gate.why import REACHING
from bench.model import progress, results
from bench.runners.profiles import profile_one
from bench.stores.candidates import label

FORMAT: Final = 1
# What each claim is about, and the calls a side makes: enough to repeat, few enough to take seconds.
CASES: Final = {"get_run_metrics_cold[5000]": 20, "get_run_metrics_warm[5000]": 20, "save_latency_stats[5000]": 3}


def count_mechanisms(specs: Sequence[str], seed: int, path: Path) -> Path:
    """Profiles every store at each of CASES and writes their calls per call of the builtins in REACHING."""
    stores: dict[str, dict[str, dict[str, float]]] = {}
    with progress.task("calls that reach the system, per store", len(specs) * len(CASES)) as step:
        for spec in specs:
            for name, calls in CASES.items():
                step(f"{label(spec)} {name}")
                profile = profile_one(name, spec, calls, seed)
                counted = {f: profile.functions[f].calls for f in sorted(REACHING) if f in profile.functions}
                stores.setdefault(label(spec), {})[name] = counted
    document = {
        "format": FORMAT,
        "seed": seed,
        "calls": dict(CASES),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "stores": stores,
    }
    results.write_json_atomically(path, document)
    return path
