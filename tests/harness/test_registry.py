"""Candidates are named one way everywhere: a registry name or package.module:Class."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import storage
from storage import MetricsStore, resolve


@pytest.mark.parametrize("name", sorted(storage.CANDIDATES))
def test_every_registered_candidate_satisfies_the_protocol(name: str, tmp_path: Path) -> None:
    cls = resolve(name)
    assert cls is storage.CANDIDATES[name]
    assert isinstance(cls("r", str(tmp_path)), MetricsStore)


def test_registry_holds_the_three_candidates() -> None:
    assert set(storage.CANDIDATES) == {"baseline", "optimized", "proposed"}


def test_outside_candidate_is_imported_by_module_and_class() -> None:
    assert resolve("storage.optimized:MetricsStorage") is storage.CANDIDATES["optimized"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fastest", "unknown candidate 'fastest': use one of baseline, optimized, proposed"),
        ("no_such_module_xyz:Store", "cannot import 'no_such_module_xyz'"),
        ("storage.optimized:Missing", "has no 'Missing'"),
        (
            "storage.latency:LatencyCollector",
            "lacks save_latency_stats, get_run_metrics, compare_runs, get_recent_runs",
        ),
        (":Store", "is not of the form package.module:Class"),
    ],
)
def test_bad_candidate_names_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(LookupError, match=re.escape(message)):
        resolve(spec)
