"""Shared test fixtures: a controlled clock and an isolated working directory."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

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
