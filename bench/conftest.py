"""Options of the benchmark suites under pytest: which candidates, quick sizes, and the fixtures' seed and cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.model.fixtures import DEFAULT_SEED, Fixtures, default_cache_dir


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("metrics-store-bench", "metrics store benchmarks (bench/)")
    group.addoption(
        "--candidates",
        default=None,
        help="comma-separated registered names or package.module:Class (default: every registered one); "
        "the baseline is always measured, every ratio needs it",
    )
    group.addoption("--quick", action="store_true", help="only each operation's quick sizes, fewer cold rounds")
    group.addoption("--fixture-seed", type=int, default=DEFAULT_SEED, help="seed of every fixture")
    group.addoption("--fixture-cache", type=Path, default=None, help="where built fixtures are kept")
    group.addoption("--bench-run", default=None, help="label of one `python -m bench` run, kept in extra_info")


@pytest.fixture(scope="session")
def seeded_fixtures(pytestconfig: pytest.Config) -> Fixtures:
    cache = pytestconfig.getoption("fixture_cache") or default_cache_dir()
    return Fixtures(pytestconfig.getoption("fixture_seed"), cache)
