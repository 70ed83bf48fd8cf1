"""Shared test fixtures: a controlled clock and an isolated working directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.common.clock import FROZEN_NOW, freeze_clock
from tests.common.store_modules import module_with


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import storage

    for store_class in storage.CANDIDATES.values():
        freeze_clock(monkeypatch, store_class)
    yield FROZEN_NOW.isoformat()


@pytest.fixture
def in_tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default results_dir is relative to the working directory: give each test its own."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- the equivalence suite: Hypothesis profiles, --candidate, the candidate fixture ---------------

# ci: derandomized, sized so that `nox -s tests` stays under 5 minutes on 2 cores.
# thorough: 10x the examples and random search, failures kept in .hypothesis/ (not in git).
CI_EXAMPLES = 40
CI_STATEFUL_STEPS = 25
_PROFILE_SETTINGS = {
    "deadline": None,  # file I/O on a shared machine: time is the benchmarks' business, not a test's
    "report_multiple_bugs": False,  # one Mismatch per failing test, the smallest found
    # No explain phase: it traces every replay of a failure, which made catching `proposed` take minutes.
    "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile(
    "ci", max_examples=CI_EXAMPLES, stateful_step_count=CI_STATEFUL_STEPS, derandomize=True, **_PROFILE_SETTINGS
)
settings.register_profile(
    "thorough", max_examples=10 * CI_EXAMPLES, stateful_step_count=2 * CI_STATEFUL_STEPS, **_PROFILE_SETTINGS
)
# mutants: what `python -m bench mutants` runs each of mutmut's mutants against. Few examples, the same ones
# every time and no database, so a mutant's verdict depends on the mutant alone; the explicit @examples
# (the defect classes) run in every profile.
MUTANT_EXAMPLES = 10
settings.register_profile(
    "mutants",
    max_examples=MUTANT_EXAMPLES,
    stateful_step_count=CI_STATEFUL_STEPS,
    derandomize=True,
    database=None,
    **_PROFILE_SETTINGS,
)
# quick: what `history` runs on every commit (bench.runners.equivalence.QUICK_PROFILE): the explicit @examples
# (the defect classes) and a few generated ones, the same every time, unshrunk: a commit's verdict and the
# operations that differ, in seconds, not its smallest counterexample.
QUICK_EXAMPLES = 4
QUICK_STATEFUL_STEPS = 10
settings.register_profile(
    "quick",
    max_examples=QUICK_EXAMPLES,
    stateful_step_count=QUICK_STATEFUL_STEPS,
    derandomize=True,
    database=None,
    **(_PROFILE_SETTINGS | {"phases": [Phase.explicit, Phase.generate]}),
)
PROFILES = ("ci", "thorough", "mutants", "quick")
# HYPOTHESIS_NO_SHRINK=1: the profile without its shrink phase. bench.runners.equivalence sets it for the stateful
# test when judging one revision: shrinking one failure of it took 10 to 47 s, and a verdict needs none.
NO_SHRINK_VARIABLE = "HYPOTHESIS_NO_SHRINK"
# A mutant that drops the size check reads /dev/zero until the machine runs out: with this cap it dies of a
# MemoryError instead (killed), as 18 GB of one mutant's test did before it.
MUTANT_MEMORY_BYTES = 4 * 1024**3


def _cap_memory(limit: int) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


# Registered candidates kept because they differ. The generic runs skip them: tests/store/test_catches_proposed.py
# runs the same properties on them and asserts that each finds its counterexample.
KNOWN_TO_DIFFER = {"proposed": "differs on purpose: tests/store/test_catches_proposed.py asserts the suite catches it"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("equivalence", "equivalence suite (tests/store/test_equivalence.py and test_stateful.py)")
    group.addoption(
        "--candidate",
        action="append",
        default=[],
        metavar="NAME|package.module:Class",
        help="also check this store against the baseline (repeatable), beside the registered ones (proposed is "
        "checked by tests/store/test_catches_proposed.py). Hypothesis profile: HYPOTHESIS_PROFILE=ci|thorough|quick, "
        "or --hypothesis-profile (default ci)",
    )
    group.addoption(
        "--only-candidate",
        default=None,
        metavar="NAME",
        help="run the tests that take a candidate on this registered store only (what mutmut runs: optimized)",
    )


def pytest_configure(config: pytest.Config) -> None:
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    if profile not in PROFILES:
        raise pytest.UsageError(f"HYPOTHESIS_PROFILE={profile!r}: use one of {', '.join(PROFILES)}")
    settings.load_profile(profile)  # --hypothesis-profile, applied by Hypothesis's plugin, still wins
    if os.environ.get(NO_SHRINK_VARIABLE) == "1":  # a verdict without the time a readable counterexample costs
        loaded = settings.get_profile(profile)
        phases = [phase for phase in loaded.phases if phase is not Phase.shrink]
        settings.register_profile(f"{profile}-unshrunk", parent=loaded, phases=phases)
        settings.load_profile(f"{profile}-unshrunk")
    if profile == "mutants" or "MUTANT_UNDER_TEST" in os.environ:  # mutmut sets it in every mutant's run
        _cap_memory(MUTANT_MEMORY_BYTES)
    from bench.errors import UsageError
    from bench.stores.candidates import resolve

    for spec in config.getoption("candidate"):
        try:
            resolve(spec)
        except UsageError as e:
            raise pytest.UsageError(f"--candidate {spec}: {e}") from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test asking for `candidate` runs once per registered store and per --candidate."""
    if "candidate" not in metafunc.fixturenames:
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        if "candidate" in ([n.strip() for n in names.split(",")] if isinstance(names, str) else names):
            return  # the test names its own candidates
    import storage
    from bench.stores.deployment import DEPLOYED

    # Every registered store, the optimized one as the application deploys it, and each --candidate.
    specs = dict.fromkeys([*storage.CANDIDATES, DEPLOYED, *metafunc.config.getoption("candidate")])
    only = metafunc.config.getoption("only_candidate")
    if only is not None:
        if only not in specs:
            raise pytest.UsageError(f"--only-candidate {only}: one of {', '.join(specs)}")
        specs = {only: None}
    params = [
        pytest.param(
            spec,
            id=spec,
            marks=[pytest.mark.skip(reason=KNOWN_TO_DIFFER[spec])] if spec in KNOWN_TO_DIFFER else [],
        )
        for spec in specs
    ]
    metafunc.parametrize("candidate", params, indirect=True, scope="session")


@pytest.fixture(scope="session")
def candidate(request: pytest.FixtureRequest) -> type:
    """A candidate store class, checked against storage.baseline."""
    from bench.stores.candidates import resolve

    return resolve(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """cache-trusts-at-once closes a store's racy window: a store with none is skipped before Hypothesis starts.

    Skipping inside the test would have Hypothesis report each explicit example as falsifying.
    """
    from bench.stores.candidates import resolve

    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("condition") != "cache-trusts-at-once" or "candidate" not in params:
            continue
        store_class = resolve(params["candidate"])
        if module_with(store_class, "_RACY_WINDOW_NS") is None:
            item.add_marker(pytest.mark.skip(reason=f"{store_class.__module__} has no racy window to close"))


# --- permissions as root: a test marked `unprivileged` runs without CAP_DAC_OVERRIDE (tests/common/kernel_faults.py) --


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Where mode bits would not bind this process, an `unprivileged` test runs in a child that they bind instead;
    its verdict is the child's (passed, or failed with the child's output)."""
    from tests.common import kernel_faults

    if pyfuncitem.get_closest_marker("unprivileged") is None or not kernel_faults.bypasses_permissions():
        return None
    kernel_faults.run_unprivileged(pyfuncitem.nodeid)
    return True
