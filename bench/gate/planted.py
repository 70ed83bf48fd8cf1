"""Candidates with a known regression planted on one operation, to prove the gate can fire.

`bench.gate.planted:<store>__<method>__plus<percent>` is a candidate class that behaves exactly like the
registered store `<store>` but spends `<percent>`% more time in `<method>`: each call measures its own
duration and then busy-waits that fraction of it (for the wall-clock gate). In a store's source text,
plant_slowdown_in_source does the same, for one method or for every plantable method at once.
`bench.gate.planted:<store>__<method>__work<iterations>` instead runs a fixed integer loop of that many
iterations after each call: the same extra instructions every time (for the instruction-count gate,
where a time-based wait would count valgrind's slowness). Built on demand (PEP 562 module
__getattr__), so `storage.resolve()` finds them by name in any worker process. Nothing here
touches storage/.
"""

from __future__ import annotations

import ast
import re
from functools import wraps
from time import perf_counter
from typing import Any, Final, cast

from bench.errors import UsageError
from storage import CANDIDATES

_NAME: Final = re.compile(r"(?P<store>[a-z]+)__(?P<method>[a-z_]+?)__(?P<kind>plus|work)(?P<amount>\d+)")
PLANTABLE_METHODS: Final = ("save_latency_stats", "get_run_metrics", "compare_runs", "get_recent_runs")
# Every plantable method at once in a source plant, each by the same share: one whole-gate run tries every benchmark.
EVERY_METHOD: Final = "every_method"


def method_timed_by(operation: str) -> str:
    """The store method an operation of bench/model/operations.py times ("get_run_metrics_cold": get_run_metrics)."""
    for method in PLANTABLE_METHODS:
        if operation == method or operation.startswith(f"{method}_"):
            return method
    raise UsageError(f"operation {operation!r} times none of {', '.join(PLANTABLE_METHODS)}")


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


def spin(seconds: float) -> None:
    # Busy-wait, not sleep: a planted cost must be CPU time the way a real regression is.
    deadline = perf_counter() + seconds
    while perf_counter() < deadline:
        pass


def _slowed(function: Any, fraction: float) -> Any:
    @wraps(function)
    def slowed(*args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        result = function(*args, **kwargs)
        spin((perf_counter() - started) * fraction)
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
        raise UsageError(f"no registered store {store!r} to plant a regression in")
    if method not in PLANTABLE_METHODS:
        raise UsageError(f"cannot plant in {method!r}: one of {', '.join(PLANTABLE_METHODS)}")
    base = CANDIDATES[store]
    if work_iterations is None:
        wrapped = _slowed(getattr(base, method), percent / 100)
        name = planted_name(store, method, percent)
    else:
        wrapped = _burdened(getattr(base, method), work_iterations)
        name = planted_work_name(store, method, work_iterations)
    replacement: Any = staticmethod(wrapped) if method == "get_recent_runs" else wrapped
    # Same module as the store it wraps, for the clock and cache a test may patch there.
    bases: tuple[type, ...] = (cast(type, base),)  # a registered store is a class
    return type(name, bases, {method: replacement, "__module__": base.__module__, "__qualname__": name})


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


# --- planted in a store's source text: a commit that is slower, for the gate --against a revision ----

_SLOWED_TEMPLATE: Final = """

# Planted by bench.gate.planted: {methods} spend {percent}% more time (each busy-waits that share of its own
# duration; a planted method called inside another adds nothing of its own).
def _planted_slowed(function, fraction, depth=[0]):
    from functools import wraps as _wraps
    from time import perf_counter as _clock

    @_wraps(function)
    def slowed(*args, **kwargs):
        depth[0] += 1
        try:
            started = _clock()
            result = function(*args, **kwargs)
            elapsed = _clock() - started
        finally:
            depth[0] -= 1
        if depth[0] == 0:
            deadline = _clock() + elapsed * fraction
            while _clock() < deadline:
                pass
        return result

    return slowed


for _planted_name in {methods!r}:
    _planted_original = {cls}.__dict__[_planted_name]
    if isinstance(_planted_original, staticmethod):
        setattr({cls}, _planted_name, staticmethod(_planted_slowed(_planted_original.__func__, {fraction!r})))
    else:
        setattr({cls}, _planted_name, _planted_slowed(_planted_original, {fraction!r}))
"""


def plant_slowdown_in_source(source: str, method: str, percent: int, cls: str = "MetricsStorage") -> str:
    """The module's source with `cls.method` (or, with EVERY_METHOD, each plantable method) made `percent`% slower in
    wall time, as a commit would be."""
    methods = PLANTABLE_METHODS if method == EVERY_METHOD else (method,)
    for each in methods:
        if each not in PLANTABLE_METHODS:
            raise UsageError(f"cannot plant in {each!r}: one of {', '.join(PLANTABLE_METHODS)}, or {EVERY_METHOD}")
        _method_node(source, cls, each)  # present, or a UsageError naming it
    return source + _SLOWED_TEMPLATE.format(methods=methods, percent=percent, cls=cls, fraction=percent / 100)


def plant_work_in_source(
    source: str, method: str, amount: int, cls: str = "MetricsStorage", *, unrolled: bool = False
) -> str:
    """The source with extra work as `cls.method`'s first statement: extra instructions, nothing else.

    The work is `amount` iterations of an integer loop, or with `unrolled` `amount` bare assignments
    (`_planted = 0; ...`): a loop's set-up alone is more than 1% of a warm read or a compare, one
    assignment a few dozen instructions. Inserted as a line of its own, so every other line and all
    other bytecode stay as they were; far cheaper per call than a wrapper.
    """
    if unrolled:
        work = "; ".join(["_planted = 0"] * amount)
    else:
        work = f"for _planted in range({amount}): _planted = (_planted * 1103515245 + 12345) & 0xFFFFFFFF"
    return _insert_first(source, cls, method, work)


# One extra system call per call, as the method's first line: what the system-call gate must catch exactly.
SYSCALL_PLANTS: Final = {
    "stat": "__import__('os').stat('.')",
    "fsync": "_planted_fd = __import__('os').open('.', __import__('os').O_RDONLY); "
    "__import__('os').fsync(_planted_fd); __import__('os').close(_planted_fd)",
}


def plant_syscall_in_source(source: str, method: str, call: str, cls: str = "MetricsStorage") -> str:
    """The source with one more `call` (a key of SYSCALL_PLANTS) per call of `cls.method`, nothing else."""
    if call not in SYSCALL_PLANTS:
        raise UsageError(f"no planted system call {call!r}: one of {', '.join(SYSCALL_PLANTS)}")
    return _insert_first(source, cls, method, SYSCALL_PLANTS[call])


def _insert_first(source: str, cls: str, method: str, statement: str) -> str:
    """`statement` as a line of its own before the method's first statement (after its docstring)."""
    node = _method_node(source, cls, method)
    body = node.body
    first = body[1] if len(body) > 1 and _is_docstring(body[0]) else body[0]
    lines = source.splitlines(keepends=True)
    lines.insert(first.lineno - 1, f"{' ' * first.col_offset}{statement}\n")
    return "".join(lines)


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _method_node(source: str, cls: str, method: str) -> ast.FunctionDef:
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    return item
    raise UsageError(f"no method {cls}.{method} in the source to plant in")
