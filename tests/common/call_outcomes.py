"""What one call did, as a value two candidates can be compared on: its return or its exception, and its output."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    returned: Any = None
    raised: tuple[type[BaseException], str] | None = None
    printed: str = ""


def outcome_of(call: Callable[[], Any]) -> Outcome:
    """Run call, capturing stdout; an exception becomes part of the outcome for the test to assert on."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            value = call()
        except Exception as e:
            return Outcome(raised=(type(e), str(e)), printed=printed.getvalue())
    return Outcome(returned=value, printed=printed.getvalue())
