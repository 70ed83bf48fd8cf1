"""pytest-benchmark adapter over bench.model.operations: candidate x operation x size, candidates side by side.

    pytest bench/test_storage.py                            # every case, every registered candidate
    pytest bench/test_storage.py --benchmark-compare        # against the newest run in results/pytest-benchmark

Each benchmark's group is its case ("compare_runs[5000]"), so every group lists the candidates
together; prepare() has checked one answer before timing starts, and the last timed answer is
checked again after.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Final

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from bench.errors import UsageError
from bench.model.fixtures import Fixtures
from bench.model.operations import Operation, build_fixtures, case_name, cases, prepare
from bench.stores.candidates import label, resolve, select, source_sha256

# A cold read needs fresh state every round, so it goes through pedantic(), which takes rounds, not a time budget.
COLD_ROUNDS: Final = 100
QUICK_COLD_ROUNDS: Final = 25


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "candidate" not in metafunc.fixturenames:
        return
    config = metafunc.config
    try:
        specs = select(config.getoption("candidates"))
    except UsageError as e:
        raise pytest.UsageError(str(e)) from e
    # Candidate innermost: the candidates of one case run one after the other, close in time.
    params = [
        pytest.param(operation, size, spec, id=f"{case_name(operation, size)}-{label(spec)}")
        for operation, size in cases(config.getoption("quick"), config.getoption("sizes") == "large")
        for spec in specs
    ]
    metafunc.parametrize(("operation", "size", "candidate"), params)


@pytest.fixture(scope="session")
def built_fixtures(seeded_fixtures: Fixtures, pytestconfig: pytest.Config) -> Fixtures:
    """Every fixture the selected cases read, built before the first benchmark, with progress shown."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        build_fixtures(
            seeded_fixtures, cases(pytestconfig.getoption("quick"), pytestconfig.getoption("sizes") == "large")
        )
    return seeded_fixtures


def test_operation(
    benchmark: BenchmarkFixture,
    operation: Operation,
    size: int,
    candidate: str,
    built_fixtures: Fixtures,
    tmp_path: Path,
    pytestconfig: pytest.Config,
) -> None:
    case = prepare(operation, size, resolve(candidate), tmp_path, built_fixtures)
    benchmark.group = case.name
    benchmark.extra_info.update(
        built_fixtures.provenance(),
        candidate=label(candidate),
        operation=operation.name,
        size=size,
        peak_memory_bytes=case.peak_memory(),
        candidate_sha256=source_sha256(candidate),
        baseline_sha256=source_sha256("baseline"),
        bench_run=pytestconfig.getoption("bench_run"),
    )
    with case.entered():
        if case.subject.refresh is None:
            answer = benchmark(case.subject.call)
        else:
            rounds = QUICK_COLD_ROUNDS if pytestconfig.getoption("quick") else COLD_ROUNDS
            answer = benchmark.pedantic(case.subject.call, setup=case.subject.refresh, rounds=rounds, warmup_rounds=1)
    operation.check(answer, case)
