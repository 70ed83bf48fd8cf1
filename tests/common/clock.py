"""A stopped clock for the stores: tests compare bytes on disk, and only `timestamp` would differ."""

from __future__ import annotations

import sys
from datetime import datetime

import pytest

FROZEN_NOW = datetime(2026, 1, 2, 3, 4, 5, 678901)


class FrozenDatetime(datetime):
    """datetime whose now() is FROZEN_NOW, so summaries and comparisons carry a known timestamp."""

    @classmethod
    def now(cls, tz=None):
        return cls.fromisoformat(FROZEN_NOW.isoformat()) if tz is None else FROZEN_NOW.replace(tzinfo=tz)


def freeze_clock(monkeypatch: pytest.MonkeyPatch, store_class: type) -> None:
    """Stops the clock of the module that defines a store: every candidate names `datetime` at module level."""
    module = sys.modules[store_class.__module__]
    if getattr(module, "datetime", None) is not datetime:
        raise RuntimeError(f"{module.__name__} has no module-level datetime to freeze")
    monkeypatch.setattr(module, "datetime", FrozenDatetime)
