"""Which stores a benchmark run measures: registered names, "deployed", or outside "package.module:Class"."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Final

import storage
from bench.deployment import DEPLOYED, deployed_store_class
from storage import CANDIDATES, MetricsStoreClass

BASELINE: Final = "baseline"


def resolve(spec: str) -> MetricsStoreClass:
    """storage.resolve, plus "deployed": the optimized store laid out as the application's storage.py."""
    if spec == DEPLOYED:
        return deployed_store_class()
    return storage.resolve(spec)


def select(text: str | None, *, deployed: bool = False) -> list[str]:
    """Comma-separated names or specs, checked to resolve; the baseline first (every ratio needs it), no repeats.

    deployed=True adds the deployed layout to whatever else is chosen.
    """
    wanted = list(CANDIDATES) if text is None else [part.strip() for part in text.split(",") if part.strip()]
    if deployed:
        wanted.append(DEPLOYED)
    if not wanted:
        raise LookupError(f"no candidate in {text!r}: use e.g. baseline,optimized or package.module:Class")
    chosen = [BASELINE]
    for spec in wanted:
        resolve(spec)  # raises LookupError naming the spec
        if spec not in chosen:
            chosen.append(spec)
    return chosen


def label(spec: str) -> str:
    """A name safe in file names and table cells: "pkg.mod:Class" becomes "pkg.mod.Class"."""
    return spec.replace(":", ".")


def source_sha256(spec: str) -> str:
    """sha256 of the file that defines a candidate: results carry which code they measured."""
    return hashlib.sha256(Path(inspect.getfile(resolve(spec))).read_bytes()).hexdigest()
