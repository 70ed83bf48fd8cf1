"""Sessions: `nox -s tests`, `nox -s lint`. Logic lives in the packages, not here."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit, differential and stateful tests (Hypothesis profile: HYPOTHESIS_PROFILE, default ci)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Both benchmark suites, candidates interleaved, then one table (`-- --help` for --quick, --candidates ...)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "bench", *session.posargs)
