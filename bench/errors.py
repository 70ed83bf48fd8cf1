"""The harness's exit codes and its own errors, in one place; bench.cli.main is the one place that turns them
into an exit status (as pyperf's CLIError and Hypothesis's errors.py)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """What every command exits with. An unexpected exception keeps its traceback and Python's own code (1)."""

    OK = 0  # all held
    FAILED = 1  # a regression, or a failed check (a suite, an answer check, a surviving mutant)
    USAGE = 2  # a usage error, or saved files that do not match (provenance)
    INTERRUPTED = 130  # Ctrl-C: the shell's convention for SIGINT


class BenchError(Exception):
    """Base of the harness's own errors; each names the exit code it becomes."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(BenchError):
    """Exit 2: the command, a saved file or a named revision makes the comparison meaningless.

    Deliberately not a LookupError: a KeyError or IndexError is a bug and must keep its traceback.
    """

    exit_code = ExitCode.USAGE


class RevisionError(UsageError):
    """A git revision that does not resolve, has no store, or whose store cannot be imported or answers wrongly."""


class StaleControl(UsageError):
    """A saved file measured against a retired frozen baseline, or recording none: not comparable (provenance)."""


class StoreUnusable(BenchError):
    """Exit 1: a store that cannot serve, named with the one-line reason.

    It does not compile or import, lacks a method or its class, is async (a coroutine function, or returns a
    coroutine), or changed a signature the application calls it with. The gate fails on a working tree's store
    like this; against a revision, the reference's is a RevisionError (exit 2) instead; history and find
    record such a commit as skipped, as `git bisect skip` does.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HarnessError(BenchError):
    """Exit 2: the harness failed in its own code around a store (the equivalence suite's set-up, say), so it has
    no verdict to give; never reported as the store's "differs"."""

    exit_code = ExitCode.USAGE


class SuiteFailed(BenchError):
    """Exit 1: a suite's process failed (a check of an answer, a crash); its own output says which."""


class ToolMissing(UsageError):
    """A program the command needs (valgrind, strace, git) is not installed: bench.model.git raises it for git."""
