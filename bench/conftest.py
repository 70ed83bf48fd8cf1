"""Options of the benchmark suites under pytest: which candidates, quick sizes, and the fixtures' seed and cache."""

from __future__ import annotations

import pytest

from bench.model.fixtures import Fixtures
from bench.model.options import add_fixture_options, add_quick_option, add_sizes_option, fixtures_from


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("metrics-store-bench", "metrics store benchmarks (bench/)")
    group.addoption(
        "--candidates",
        default=None,
        help="comma-separated registered names or package.module:Class (default: every registered one); "
        "the baseline is always measured, every ratio needs it",
    )
    add_quick_option(group.addoption, "only each operation's quick sizes, fewer cold rounds")
    add_sizes_option(group.addoption)
    add_fixture_options(group.addoption)
    group.addoption("--bench-run", default=None, help="label of one `python -m bench` run, kept in extra_info")


@pytest.fixture(scope="session")
def seeded_fixtures(pytestconfig: pytest.Config) -> Fixtures:
    return fixtures_from(pytestconfig.option)
