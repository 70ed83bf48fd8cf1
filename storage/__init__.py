"""Candidate metrics stores, the Protocol they satisfy, and how to name one."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from storage import baseline, optimized, proposed
from storage.latency import LatencyCollector, LatencyMeasurement

__all__ = [
    "CANDIDATES",
    "COLLECTORS",
    "LatencyCollector",
    "LatencyMeasurement",
    "MetricsStore",
    "MetricsStoreClass",
    "UnknownCandidate",
    "collector_class_for",
    "resolve",
]


@runtime_checkable
class MetricsStore(Protocol):
    """What the harness needs of a store instance: the original public API."""

    run_id: str
    metrics_dir: Path

    def save_latency_stats(self, collector: Any) -> dict[str, str]: ...

    def get_run_metrics(self) -> Any | None: ...

    def compare_runs(self, other_run_id: str) -> dict[str, Any]: ...

    @staticmethod
    def get_recent_runs(results_dir: str = ..., limit: int = ...) -> list[str]: ...


class MetricsStoreClass(Protocol):
    """A candidate is a class: built with (run_id, results_dir), listing with a static method."""

    def __call__(self, run_id: str, results_dir: str = ...) -> MetricsStore: ...

    @staticmethod
    def get_recent_runs(results_dir: str = ..., limit: int = ...) -> list[str]: ...


CANDIDATES: dict[str, MetricsStoreClass] = {
    "baseline": baseline.MetricsStorage,
    "optimized": optimized.MetricsStorage,
    "proposed": proposed.MetricsStorage,
}


# The collector class of each store the harness loaded from a path (at a git revision or in a work tree): the
# module it names (by default the latency.py beside the store), which the store's own module need not import.
COLLECTORS: dict[Any, type] = {}


def collector_class_for(store_class: Any) -> type:
    """The collector class a store is written against: the one registered for it, else its (or a base class's)
    module's LatencyCollector, else ours.

    A store's save fast path is keyed to its sibling latency module's class (the application's own, once
    deployed), so every suite builds a store's inputs with this class, or it times and checks the slow path.
    """
    if (registered := COLLECTORS.get(store_class)) is not None:
        return registered
    for cls in getattr(store_class, "__mro__", (store_class,)):  # a subclass elsewhere keeps its base's collector
        own = getattr(sys.modules.get(getattr(cls, "__module__", ""), None), "LatencyCollector", None)
        if isinstance(own, type):
            return own
    return LatencyCollector


class UnknownCandidate(LookupError):
    """A candidate spec that names no store: raised by resolve, with the spec and what would be accepted."""


_REQUIRED = ("save_latency_stats", "get_run_metrics", "compare_runs", "get_recent_runs")


def resolve(spec: str) -> MetricsStoreClass:
    """A registered name ("optimized") or an outside "package.module:Class"."""
    if ":" not in spec:
        try:
            return CANDIDATES[spec]
        except KeyError:
            known = ", ".join(CANDIDATES)
            raise UnknownCandidate(f"unknown candidate {spec!r}: use one of {known}, or package.module:Class") from None
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise UnknownCandidate(f"candidate {spec!r} is not of the form package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise UnknownCandidate(f"candidate {spec!r}: cannot import {module_name!r}: {e}") from e
    try:
        cls = getattr(module, class_name)
    except AttributeError:
        raise UnknownCandidate(f"candidate {spec!r}: module {module_name!r} has no {class_name!r}") from None
    missing = [name for name in _REQUIRED if not callable(getattr(cls, name, None))]
    if missing:
        raise UnknownCandidate(f"candidate {spec!r} lacks {', '.join(missing)} (see storage.MetricsStore)")
    return cls
