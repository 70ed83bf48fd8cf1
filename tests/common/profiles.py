"""Synthetic profiles in the shape bench.runners.profiles writes, for the tests of the diff and of its views."""

from __future__ import annotations

from bench.runners.profiles import Called, Profile

READ = "get_run_metrics (src/astraguard/hil/metrics/storage.py:45)"


def profile(benchmark: str, functions: dict[str, tuple[float, dict[str, float]]]) -> Profile:
    """functions: name -> (calls per call, {caller: its calls per call}); no own time."""
    return Profile(
        benchmark, 5, {name: Called(name, calls, 0.0, callers) for name, (calls, callers) in functions.items()}
    )


def reading_and_cached(benchmark: str) -> tuple[Profile, Profile]:
    """(a read served from the instance, the read that opens the file through pathlib): the stale cache's."""
    reading = profile(
        benchmark,
        {
            READ: (1.0, {}),
            "read_text (pathlib.py:1053)": (1.0, {READ: 1.0}),
            "open (pathlib.py:1036)": (1.0, {"read_text (pathlib.py:1053)": 1.0}),
            "io.open": (1.0, {"open (pathlib.py:1036)": 1.0}),
        },
    )
    cached = profile(benchmark, {READ: (1.0, {}), "builtins.getattr": (1.0, {READ: 1.0})})
    return cached, reading
