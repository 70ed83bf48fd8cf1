"""Candidates with a known regression planted on one operation, to prove the gate can fire.

`bench.planted:<store>__<method>__plus<percent>` is a candidate class that behaves exactly like the
registered store `<store>` but spends `<percent>`% more time in `<method>`: each call measures its own
duration and then busy-waits that fraction of it (for the wall-clock gate).
`bench.planted:<store>__<method>__work<iterations>` instead runs a fixed integer loop of that many
iterations after each call: the same extra instructions every time (for the instruction-count gate,
where a time-based wait would count valgrind's slowness). Built on demand (PEP 562 module
__getattr__), so `storage.resolve()` finds them by name in any worker process. Nothing here
touches storage/.
"""

from __future__ import annotations

import re
from functools import wraps
from time import perf_counter
from typing import Any, Final

from storage import CANDIDATES

_NAME: Final = re.compile(r"(?P<store>[a-z]+)__(?P<method>[a-z_]+?)__(?P<kind>plus|work)(?P<amount>\d+)")
PLANTABLE_METHODS: Final = ("save_latency_stats", "get_run_metrics", "compare_runs", "get_recent_runs")


def method_timed_by(operation: str) -> str:
    """The store method an operation of bench/operations.py times ("get_run_metrics_cold": get_run_metrics)."""
    for method in PLANTABLE_METHODS:
        if operation == method or operation.startswith(f"{method}_"):
            return method
    raise LookupError(f"operation {operation!r} times none of {', '.join(PLANTABLE_METHODS)}")


def planted_name(store: str, method: str, percent: int) -> str:
    """The class name __getattr__ below understands, for a share of extra time."""
    return f"{store}__{method}__plus{percent}"


def planted_work_name(store: str, method: str, iterations: int) -> str:
    """The class name for a fixed amount of extra work per call."""
    return f"{store}__{method}__work{iterations}"


def _work(iterations: int) -> int:
    state = 1
    for _ in range(iterations):
        state = (state * 1103515245 + 12345) & 0xFFFFFFFF
    return state


def _spin(seconds: float) -> None:
    # Busy-wait, not sleep: a planted cost must be CPU time the way a real regression is.
    deadline = perf_counter() + seconds
    while perf_counter() < deadline:
        pass


def _slowed(function: Any, fraction: float) -> Any:
    @wraps(function)
    def slowed(*args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        result = function(*args, **kwargs)
        _spin((perf_counter() - started) * fraction)
        return result

    return slowed


def _burdened(function: Any, iterations: int) -> Any:
    @wraps(function)
    def burdened(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        _work(iterations)
        return result

    return burdened


def planted_class(store: str, method: str, percent: int, *, work_iterations: int | None = None) -> type:
    """`store`'s class with `method` made `percent`% slower, or given `work_iterations` of extra work."""
    if store not in CANDIDATES:
        raise LookupError(f"no registered store {store!r} to plant a regression in")
    if method not in PLANTABLE_METHODS:
        raise LookupError(f"cannot plant in {method!r}: one of {', '.join(PLANTABLE_METHODS)}")
    base = CANDIDATES[store]
    if work_iterations is None:
        wrapped = _slowed(getattr(base, method), percent / 100)
        name = planted_name(store, method, percent)
    else:
        wrapped = _burdened(getattr(base, method), work_iterations)
        name = planted_work_name(store, method, work_iterations)
    replacement: Any = staticmethod(wrapped) if method == "get_recent_runs" else wrapped
    # Same module as the store it wraps, for the clock and cache a test may patch there.
    return type(name, (base,), {method: replacement, "__module__": base.__module__, "__qualname__": name})


def __getattr__(name: str) -> type:
    match = _NAME.fullmatch(name)
    if match is None:
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r} (want <store>__<method>__plus<percent> or __work<n>)"
        )
    amount = int(match["amount"])
    if match["kind"] == "work":
        return planted_class(match["store"], match["method"], 0, work_iterations=amount)
    return planted_class(match["store"], match["method"], amount)
