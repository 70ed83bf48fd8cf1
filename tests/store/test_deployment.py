"""storage/optimized.py copied unchanged as the application's storage.py, beside its latency.py.

The equivalence suite runs on that layout as the candidate "deployed" (tests/conftest.py); these tests
check what it cannot: that the copy imports with nothing of this repository reachable, and that the
save fast path is taken for the application's own collector class and for no other.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.stores.deployment import APP_PACKAGE, STORE_MODULE, deployed_store_class, lay_out
from storage import collector_class_for, optimized
from storage.latency import LatencyCollector

_IN_THE_APPLICATION = """
import json, sys
sys.path.insert(0, sys.argv[1])
from astraguard.hil.metrics import latency, storage
collector = latency.LatencyCollector()
collector.record_fault_detection("SAT-1", 1.0, 20.0)
store = storage.MetricsStorage("run-1", results_dir=sys.argv[2])
paths = store.save_latency_stats(collector)
print(json.dumps({
    "same_class": storage.LatencyCollector is latency.LatencyCollector,
    "from_this_repository": sorted(m for m in sys.modules if m.split(".")[0] in ("storage", "bench", "tests")),
    "total": store.get_run_metrics()["total_measurements"],
    "recent": storage.MetricsStorage.get_recent_runs(sys.argv[2]),
    "files": sorted(p.rsplit("/", 1)[1] for p in paths.values()),
}))
"""


def test_the_copied_store_imports_and_works_with_nothing_of_this_repository(tmp_path: Path) -> None:
    package = lay_out(tmp_path / "app")
    assert sorted(p.name for p in package.iterdir()) == ["__init__.py", "latency.py", "storage.py"]
    assert (package / "storage.py").read_bytes() == Path(optimized.__file__).read_bytes()
    # -S: no site-packages, so not even the editable install of this repository can be found.
    run = subprocess.run(
        [sys.executable, "-S", "-c", _IN_THE_APPLICATION, str(tmp_path / "app"), str(tmp_path / "results")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == (
        '{"same_class": true, "from_this_repository": [], "total": 1, "recent": ["run-1"], '
        '"files": ["latency_raw.csv", "latency_summary.json"]}'
    )


def _calls_to(function: Callable[..., Any], action: Callable[[], Any]) -> int:
    """How often function's code ran during action (a profile hook: the class itself stays unmodified)."""
    code = function.__code__
    calls = 0

    def profile(frame: Any, event: str, arg: Any) -> None:
        nonlocal calls
        if event == "call" and frame.f_code is code:
            calls += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return calls


def _collector_of(cls: type) -> Any:
    collector = cls()
    for n in range(50):
        collector.record_agent_decision(f"SAT-{n % 3}", float(n), 10.0 + n)
    return collector


@pytest.mark.parametrize("layout", ["in-project", "deployed"])
def test_save_takes_the_fast_path_only_for_its_own_modules_collector(tmp_path: Path, layout: str) -> None:
    store_class = optimized.MetricsStorage if layout == "in-project" else deployed_store_class()
    own = collector_class_for(store_class)
    assert own.__module__ == ("storage.latency" if layout == "in-project" else f"{APP_PACKAGE}.latency")
    foreign = sys.modules[STORE_MODULE].LatencyCollector if layout == "in-project" else LatencyCollector
    store = store_class("run", results_dir=str(tmp_path))
    # The slow path makes the original's calls: get_stats(), and get_summary()'s own get_stats().
    for cls, slow_path_calls in ((own, 0), (foreign, 2)):
        collector = _collector_of(cls)
        assert _calls_to(cls.get_stats, lambda c=collector: store.save_latency_stats(c)) == slow_path_calls


@pytest.fixture(autouse=True)
def _deployed_module_loaded() -> None:
    deployed_store_class()  # the in-project case compares with the deployed module's class
