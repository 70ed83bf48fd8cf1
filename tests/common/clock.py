"""A stopped clock for the stores: tests compare bytes on disk, and only `timestamp` would differ."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.common.store_modules import modules_of

FROZEN_NOW = datetime(2026, 1, 2, 3, 4, 5, 678901)


class FrozenDatetime(datetime):
    """datetime whose now() is FROZEN_NOW, so summaries and comparisons carry a known timestamp."""

    @classmethod
    def now(cls, tz=None):
        return cls.fromisoformat(FROZEN_NOW.isoformat()) if tz is None else FROZEN_NOW.replace(tzinfo=tz)


def freeze_clock(monkeypatch: pytest.MonkeyPatch, store_class: type) -> None:
    """Stops the clock of the nearest module along a store's class and bases that names `datetime` at module level."""
    module = next((m for m in modules_of(store_class) if getattr(m, "datetime", None) is datetime), None)
    if module is None:
        raise RuntimeError(f"{store_class.__module__} nor its bases' modules have a module-level datetime to freeze")
    monkeypatch.setattr(module, "datetime", FrozenDatetime)
