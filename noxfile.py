"""nox sessions: each installs the project with one of its pyproject extras and calls `python -m bench`.

A bare `nox` runs lint and tests; `nox -l` lists every session with its line below. Logic lives in the
packages, not here, so every session's command also runs without nox.
"""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


def _bench(session: nox.Session, extra: str, *command: str) -> None:
    session.install("-e", f".[{extra}]")
    session.run("python", "-m", "bench", *command, *session.posargs)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Every test of the repository but the benchmarks (HYPOTHESIS_PROFILE=ci|thorough, default ci)."""
    session.install("-e", ".[test]")
    if session.posargs:
        session.run("pytest", *session.posargs)
        return
    # A test that asserts a gate's verdict runs alone: another worker beside it would be noise in its timing.
    session.run("pytest", "-n", "auto", "-m", "not slow and not timed")
    session.run("pytest", "-m", "timed and not slow")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, the import layers (lint-imports), mypy, the workflows (actionlint and their schema), the summary schema."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("lint-imports")
    session.run("mypy")  # [tool.mypy] in pyproject.toml: bench/, storage/, metrics_store_bench/
    workflows = [".github/workflows/perf.yml", "examples/metrics-store-perf.yml"]
    session.run("actionlint", *workflows)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    session.run("check-jsonschema", "--check-metaschema", "schemas/summary.v1.schema.json")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """The main job: both suites, candidates interleaved, one table and the report (`-- --quick`)."""
    _bench(session, "bench", "run")


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """results/REPORT.md and its plots from the saved results; never benchmarks (`-- results/latest`)."""
    _bench(session, "bench", "report")


@nox.session(python=PYTHON)
def floors(session: nox.Session) -> None:
    """The least work each operation's answer needs, timed beside the store: results/floors.json."""
    _bench(session, "bench", "floors")


@nox.session(python=PYTHON)
def equivalence(session: nox.Session) -> None:
    """The equivalence suite once per candidate: verdicts and counterexamples to results/equivalence.json."""
    _bench(session, "test", "equivalence")


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Reliability tests long and short, the fsync benchmark, then results/RELIABILITY.md."""
    _bench(session, "bench", "soak")


@nox.session(python=PYTHON)
def perfcheck(session: nox.Session) -> None:
    """What CI runs after the tests: the gate against the commit the saved ratios were measured at, on the wall
    clock, instructions and system calls per call (each gating: pyproject.toml, [tool.bench.gate])."""
    session.install("-e", ".")  # the package's own dependencies are all the gate needs
    session.run("python", "-m", "bench", "gate", "--against-saved", *session.posargs)


@nox.session(python=PYTHON)
def rebaseline(session: nox.Session) -> None:
    """On purpose only: rewrites the committed bench runs, then the gate's saved ratios (commit with a reason)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "bench", "run", "--rebaseline")
    session.run("python", "-m", "bench", "gate", "--rebaseline", *session.posargs)


@nox.session(python=PYTHON)
def calibrate(session: nox.Session) -> None:
    """The gate's false-alarm and detection rates against HEAD (a timing job); rewrites results/GATE.md."""
    _bench(session, "gate", "calibrate")


@nox.session(python=PYTHON)
def history(session: nox.Session) -> None:
    """A point per commit under results/history/ and their change points (`-- --last 10`)."""
    _bench(session, "bench", "history")


@nox.session(python=PYTHON)
def publish(session: nox.Session) -> None:
    """The history dashboard, a static site from the saved results (results/site/; `-- --commit-url URL`)."""
    _bench(session, "site", "publish")


@nox.session(python=PYTHON)
def mutants(session: nox.Session) -> None:
    """mutmut's mutants of storage/optimized.py against the equivalence suite: results/MUTATION.md (~20 minutes)."""
    session.install("-e", ".[mutants]")
    session.run("python", "-m", "bench", "mutants", *session.posargs)
