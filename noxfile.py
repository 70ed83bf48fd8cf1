"""Sessions: `nox -s tests`, `nox -s lint`. Logic lives in the packages, not here."""

from __future__ import annotations

from pathlib import Path

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
    """ruff over the code, actionlint over the workflow users copy (.github/workflows/perf.yml)."""
    session.install("-e", ".[lint]")
    session.run("ruff", "check", ".")
    session.run("actionlint", ".github/workflows/perf.yml")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Both benchmark suites, candidates interleaved, then one table (`-- --help` for --quick, --candidates ...)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "bench", *session.posargs)


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """results/REPORT.md and its plots from the saved results; never runs a benchmark (`-- results/latest`)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "bench.report", *session.posargs)


@nox.session(python=PYTHON)
def floors(session: nox.Session) -> None:
    """Measures the least work each operation's answer needs, for the report: results/floors.json."""
    session.install("-e", ".[bench]")
    output = Path("results/floors.json")
    output.unlink(missing_ok=True)  # pyperf's -o refuses an existing file, and floors are measured whole
    session.run("python", "-m", "bench.pyperf_floors", "-o", str(output), *session.posargs)


@nox.session(python=PYTHON)
def equivalence(session: nox.Session) -> None:
    """The equivalence suite once per candidate; verdicts and counterexamples to results/equivalence.json."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "bench.equivalence", *session.posargs)


@nox.session(python=PYTHON)
def soak(session: nox.Session) -> None:
    """Reliability tests long and short, the fsync benchmark, then results/RELIABILITY.md from what they recorded."""
    session.install("-e", ".[bench]")
    junit, fsync, report = "results/reliability/junit.xml", "results/reliability/pyperf-fsync", "results/RELIABILITY.md"
    reliability_tests = sorted(str(path) for path in Path("tests").glob("test_reliability_*.py"))
    pytest_args = ["-m", "slow or not slow", "-o", "junit_family=xunit1", f"--junitxml={junit}", *session.posargs]
    # A failed test still gets its report written; the report's exit code then fails the session.
    session.run("pytest", *reliability_tests, *pytest_args, success_codes=[0, 1])
    session.run("python", "-m", "bench.pyperf_fsync", "--output", fsync)
    session.run("python", "tests/reliability_report.py", "--junit", junit, "--fsync", fsync, "--output", report)


@nox.session(python=PYTHON)
def perfcheck(session: nox.Session) -> None:
    """What CI runs: the gate against the commit the saved ratios were measured at; then, for information, counts.

    Instruction counts are printed, not gated: a comment-only change moved the warm read's count by 9%
    (the heap the imports leave), so they would fail unchanged code (README, "The CI perf gate").
    """
    session.install("-e", ".")
    session.run("python", "-m", "bench.gate", "--against-saved", *session.posargs)
    session.run("python", "-m", "bench.gate", "--against-saved", "--instructions", "--quick", "--informational")


@nox.session(python=PYTHON)
def rebaseline(session: nox.Session) -> None:
    """On purpose only: rewrites the committed bench runs, then the gate's saved ratios (commit with a reason)."""
    session.install("-e", ".[bench]")
    session.run("python", "-m", "bench", "--rebaseline")
    session.run("python", "-m", "bench.gate", "--rebaseline", *session.posargs)


@nox.session(name="gate-calibration", python=PYTHON)
def gate_calibration(session: nox.Session) -> None:
    """Measures the gate's false-alarm and detection rates against HEAD (a timing job: a quiet machine); rewrites
    results/gate/against_calibration.json and results/GATE.md."""
    session.install("-e", ".")
    session.run("python", "-m", "bench.gate_calibration", *session.posargs)


@nox.session(python=PYTHON)
def mutants(session: nox.Session) -> None:
    """Mutation check: the equivalence suite must kill every mutant of storage/optimized.py (results/MUTATION.md)."""
    session.install("-e", ".[test]")
    session.run("python", "tests/mutation.py", *session.posargs)
