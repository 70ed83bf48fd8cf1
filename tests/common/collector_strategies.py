"""Collectors for the equivalence suite: recorded, appended, in bulk, and ScriptedCollectors whose export_csv and
getters return, raise or write what a test scripts (tests.common.strategies re-exports them)."""

from __future__ import annotations

import copy
import functools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from hypothesis import strategies as st

from storage.latency import LatencyCollector, LatencyMeasurement
from tests.common.strategy_values import ORDER_SENSITIVE_POOLS, RECORD_METHODS, json_like, numbers, text_pools, texts

# --- collectors ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One record_* call."""

    method: str
    sat_id: str
    scenario_time_s: Any
    duration_ms: Any

    def apply(self, collector: LatencyCollector, measurement_class: type = LatencyMeasurement) -> None:
        getattr(collector, self.method)(self.sat_id, self.scenario_time_s, self.duration_ms)


@dataclass(frozen=True)
class Append:
    """A measurement appended straight onto collector.measurements: in the stats, not in the counts."""

    timestamp: Any
    metric_type: str
    satellite_id: str
    duration_ms: Any
    scenario_time_s: Any

    def apply(self, collector: LatencyCollector, measurement_class: type = LatencyMeasurement) -> None:
        measurement = measurement_class(
            self.timestamp, self.metric_type, self.satellite_id, self.duration_ms, self.scenario_time_s
        )
        collector.measurements.append(measurement)


@dataclass(frozen=True)
class Bulk:
    """`count` records and appends picked from the pools by a seeded generator: thousands, cheaply."""

    count: int
    seed: int
    sat_ids: tuple[str, ...]
    metric_types: tuple[str, ...]
    values: tuple[Any, ...]

    def apply(self, collector: LatencyCollector, measurement_class: type = LatencyMeasurement) -> None:
        rng = random.Random(self.seed)
        for _ in range(self.count):
            sat_id, duration, scenario = rng.choice(self.sat_ids), rng.choice(self.values), rng.choice(self.values)
            if rng.random() < 0.75:
                getattr(collector, rng.choice(RECORD_METHODS))(sat_id, scenario, duration)
            else:
                metric_type = rng.choice(self.metric_types)
                collector.measurements.append(
                    measurement_class(rng.choice(self.values), metric_type, sat_id, duration, scenario)
                )


@dataclass(frozen=True)
class EmptyMeasurements:
    """The caller empties collector.measurements itself, not by reset(): the log keeps its counts."""

    def apply(self, collector: LatencyCollector, measurement_class: type = LatencyMeasurement) -> None:
        collector.measurements.clear()


@dataclass(frozen=True)
class Returns:
    """An override that returns this value (a fresh copy on every call)."""

    value: Any

    def __call__(self, inherited: Callable[[], Any], *args: Any) -> Any:
        return copy.deepcopy(self.value)


@dataclass(frozen=True)
class Raises:
    """An override that raises before doing anything."""

    error: type[Exception]

    def __call__(self, inherited: Callable[[], Any], *args: Any) -> Any:
        raise self.error(f"scripted {self.error.__name__}")


@dataclass(frozen=True)
class SetsKey:
    """An override that calls the inherited method, then sets one key of the dict it returns."""

    key: Any
    value: Any

    def __call__(self, inherited: Callable[[], Any], *args: Any) -> Any:
        result = inherited()
        result[self.key] = copy.deepcopy(self.value)
        return result


@dataclass(frozen=True)
class WritesText:
    """An export_csv override that writes its own text, then maybe fails (leaving the text written)."""

    text: str
    then_raises: type[Exception] | None = None

    def __call__(self, inherited: Callable[[], Any], filename: str) -> None:
        with open(filename, "w", newline="") as f:
            f.write(self.text)
        if self.then_raises is not None:
            raise self.then_raises("scripted failure after writing")


@dataclass(frozen=True)
class WritesNothing:
    """An export_csv override that creates no file at all."""

    def __call__(self, inherited: Callable[[], Any], filename: str) -> None:
        return None


class ScriptedCollector(LatencyCollector):
    """A subclass whose methods do what its script says (else what they inherit), logging every call."""

    # Slots, not __dict__ entries: the instance dict looks like a plain collector's, so only its type tells.
    __slots__ = ("calls", "script")

    def __init__(self, script: Mapping[str, Callable[..., Any]]) -> None:
        super().__init__()
        self.script = dict(script)
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _act(self, name: str, inherited: Callable[[], Any], *args: Any) -> Any:
        self.calls.append((name, args))
        behaviour = self.script.get(name)
        return inherited() if behaviour is None else behaviour(inherited, *args)

    def get_stats(self) -> Any:
        return self._act("get_stats", super().get_stats)

    def get_stats_by_satellite(self) -> Any:
        return self._act("get_stats_by_satellite", super().get_stats_by_satellite)

    def get_summary(self) -> Any:
        return self._act("get_summary", super().get_summary)

    def export_csv(self, filename: str) -> None:
        return self._act("export_csv", partial(super().export_csv, filename), filename)


@dataclass(frozen=True)
class CollectorRecipe:
    """How to build one collector: its class (plain, or scripted with overrides) and its steps."""

    steps: tuple[Record | Append | Bulk | EmptyMeasurements, ...]
    script: tuple[tuple[str, Any], ...] | None = None  # None: a plain LatencyCollector

    def build(self) -> LatencyCollector:
        collector = LatencyCollector() if self.script is None else ScriptedCollector(dict(self.script))
        for step in self.steps:
            step.apply(collector)
        return collector


_OVERRIDE_ERRORS = (OSError, ValueError, RuntimeError, KeyError, PermissionError)


def _script_from(behaviours: tuple[Any, Any, Any]) -> tuple[tuple[str, Any], ...]:
    names = ("get_stats", "get_summary", "export_csv")
    return tuple((name, behaviour) for name, behaviour in zip(names, behaviours, strict=True) if behaviour is not None)


@functools.cache  # one strategy per can_fail: built inside each draw, it was rebuilt and re-validated every time
def _scripts(*, can_fail: bool) -> st.SearchStrategy[tuple[tuple[str, Any], ...]]:
    values = json_like(writable=not can_fail, odd=can_fail)
    dict_results = st.dictionaries(texts(writable=not can_fail), values, max_size=4)
    stats_behaviours = [st.none(), st.builds(Returns, values)]
    summary_behaviours = [
        st.none(),
        st.builds(Returns, dict_results),
        st.builds(SetsKey, st.sampled_from(("measurement_types", "stats_by_satellite", "extra")), values),
    ]
    export_behaviours = [st.none(), st.builds(WritesNothing), st.builds(WritesText, texts(writable=True))]
    if can_fail:
        errors = st.sampled_from(_OVERRIDE_ERRORS)
        stats_behaviours.append(st.builds(Raises, errors))
        summary_behaviours += [st.builds(Raises, errors), st.builds(Returns, values)]
        export_behaviours += [st.builds(Raises, errors), st.builds(WritesText, texts(), errors)]
    behaviours = st.tuples(st.one_of(stats_behaviours), st.one_of(summary_behaviours), st.one_of(export_behaviours))
    return behaviours.map(_script_from)


@st.composite
def collectors(draw: st.DrawFn, *, max_measurements: int = 3000, can_fail: bool = True) -> CollectorRecipe:
    """Collectors built by any mix of record_* calls and direct appends, 0 to max_measurements of them.

    Half are ScriptedCollector subclasses overriding get_stats, get_summary or export_csv.
    can_fail=False keeps to collectors whose files can be written (UTF-8 text, no failing export):
    a statistic may still raise, before anything is written.
    """
    writable = not can_fail
    sat_ids = draw(text_pools(writable=writable))
    metric_types = draw(text_pools(writable=writable))
    values = tuple(draw(st.one_of(st.lists(numbers(), min_size=1, max_size=6), st.sampled_from(ORDER_SENSITIVE_POOLS))))
    pooled_names = st.one_of(st.sampled_from(sat_ids + metric_types), texts(writable=writable))
    pooled_numbers = st.one_of(st.sampled_from(values), numbers())
    step = st.one_of(
        st.builds(Record, st.sampled_from(RECORD_METHODS), pooled_names, pooled_numbers, pooled_numbers),
        st.builds(Append, pooled_numbers, pooled_names, pooled_names, pooled_numbers, pooled_numbers),
        st.builds(
            Bulk,
            st.integers(0, max_measurements),
            st.integers(0, 2**32 - 1),
            st.just(sat_ids),
            st.just(metric_types),
            st.just(values),
        ),
        st.builds(EmptyMeasurements),
    )
    steps = tuple(draw(st.lists(step, max_size=6)))
    script = draw(st.one_of(st.none(), _scripts(can_fail=can_fail)))
    return CollectorRecipe(steps, script)
