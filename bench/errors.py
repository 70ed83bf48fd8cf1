"""The harness's own errors, in one place; each command turns UsageError into exit 2 in its main()."""

from __future__ import annotations


class UsageError(Exception):
    """Exit 2: the command, a saved file or a named revision makes the comparison meaningless.

    Deliberately not a LookupError: a KeyError or IndexError is a bug and must keep its traceback.
    """


class RevisionError(UsageError):
    """A git revision that does not resolve, has no store, or whose store cannot be imported or answers wrongly."""
