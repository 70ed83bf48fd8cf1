"""Progress of the long commands: fixture builds, runs, the gate, calibration, history, soak.

On a terminal, a rich bar per task with the step in hand, the elapsed time and rich's estimate of
what remains; tasks started inside another show as bars beneath it. Anywhere else (a CI log, a pipe)
no bar is drawn: an outermost task prints a plain line with the same elapsed time and estimate, at
most once every PLAIN_EVERY_S seconds (and at its first step), and tasks inside another stay quiet.
Everything goes to stderr, so stdout keeps only results.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from rich.progress import Progress

Step = Callable[[str], None]
PLAIN_EVERY_S: Final = 5.0
_live: Progress | None = None
_depth = 0


def _bar() -> Progress:
    # Imported here: worker processes (some under valgrind) draw no bar and should not pay for rich's import.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def _estimate(started: float, done: int, total: int) -> str:
    elapsed = time.monotonic() - started
    if done == 0 or total <= done:
        return f"{elapsed:.0f} s"
    return f"{elapsed:.0f} s, about {elapsed / done * (total - done):.0f} s left"


@contextmanager
def task(description: str, total: int, *, terminal: bool | None = None) -> Iterator[Step]:
    """Yields step(message), called as each of `total` steps begins; the previous one then counts as done."""
    global _live, _depth
    on_terminal = sys.stderr.isatty() if terminal is None else terminal
    outermost = _depth == 0
    started = time.monotonic()
    printed = -PLAIN_EVERY_S
    begun = 0
    task_id: Any = None
    if on_terminal:
        if _live is None:
            _live = _bar()
            _live.start()
        task_id = _live.add_task(description, total=total)

    def step(message: str) -> None:
        nonlocal begun, printed
        if task_id is not None and _live is not None:
            _live.update(task_id, completed=begun, description=f"{description}: {message}")
        elif outermost and time.monotonic() - printed >= PLAIN_EVERY_S:
            printed = time.monotonic()
            print(f"[{begun + 1}/{total}] {message} ({_estimate(started, begun, total)})", file=sys.stderr, flush=True)
        begun += 1

    _depth += 1
    try:
        yield step
    finally:
        _depth -= 1
        if task_id is not None and _live is not None:
            _live.update(task_id, completed=begun, description=description)
            if outermost:
                _live.stop()
                _live = None
            else:
                _live.remove_task(task_id)
