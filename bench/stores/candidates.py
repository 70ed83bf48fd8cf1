"""Which stores a benchmark run measures: registered names, "deployed", outside "package.module:Class", or a store
loaded from a repository (`snapshot:FILE`, written by bench.stores.snapshot.written: `run --store`, and the
equivalence suite on a revision's store)."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path
from typing import Final

import storage
from bench.errors import StaleControl, UsageError
from bench.stores import loading, snapshot
from bench.stores.deployment import DEPLOYED, deployed_store_class
from storage import CANDIDATES, MetricsStoreClass

BASELINE: Final = "baseline"

# Frozen baselines that were once the control, and why each was retired. A saved result measured against
# one of them is refused by every reader, with the reason: its ratios and verdicts compare with a wrong control.
RETIRED_BASELINES: Final = {
    "87facdeaf4a69e71690dcf39c65612a4a270389d1d8235aa2ee2f79c46626215": (
        "the first reconstruction of the original, whose compare_runs read both runs before checking either and "
        "tested truthiness; the real original returns before reading this run when the other is missing, "
        "and compares a summary of {}"
    ),
}


def check_control(recorded_sha256: str | None, where: str) -> None:
    """Raises StaleControl, saying why, unless `where` was measured against the current frozen baseline."""
    current = source_sha256(BASELINE)
    if recorded_sha256 == current:
        return
    reason = RETIRED_BASELINES.get(recorded_sha256 or "", "a baseline this checkout does not know")
    raise StaleControl(
        f"{where} was measured against baseline {str(recorded_sha256)[:12]} ({reason}), not against "
        f"storage/baseline.py as it is now ({current[:12]}): re-measure it (nox -s rebaseline)"
    )


def resolve(spec: str) -> MetricsStoreClass:
    """storage.resolve, plus "deployed": the optimized store laid out as the application's storage.py.

    A spec that names no store is a usage error; any other exception is a bug and keeps its traceback.
    """
    if spec == DEPLOYED:
        return deployed_store_class()
    if spec.startswith(snapshot.SPEC_PREFIX):
        return loading.load(snapshot.read_spec(spec))[0]
    try:
        return storage.resolve(spec)
    except storage.UnknownCandidate as e:
        raise UsageError(str(e)) from e


def select(text: str | None, *, deployed: bool = False) -> list[str]:
    """Comma-separated names or specs, checked to resolve; the baseline first (every ratio needs it), no repeats.

    deployed=True adds the deployed layout to whatever else is chosen.
    """
    wanted = list(CANDIDATES) if text is None else [part.strip() for part in text.split(",") if part.strip()]
    if deployed:
        wanted.append(DEPLOYED)
    if not wanted:
        raise UsageError(f"no candidate in {text!r}: use e.g. baseline,optimized or package.module:Class")
    chosen = [BASELINE]
    for spec in wanted:
        resolve(spec)  # a UsageError naming the spec
        if spec not in chosen:
            chosen.append(spec)
    return chosen


def label(spec: str) -> str:
    """A name safe in file names and table cells: "pkg.mod:Class" becomes "pkg.mod.Class"; a snapshot's store is
    named by its import name and class."""
    if spec.startswith(snapshot.SPEC_PREFIX):
        return snapshot.short_label(snapshot.read_spec(spec))
    return spec.replace(":", ".")


def source_sha256(spec: str) -> str:
    """sha256 of the file that defines a candidate: results carry which code they measured."""
    if spec.startswith(snapshot.SPEC_PREFIX):
        loaded = snapshot.read_spec(spec)
        return hashlib.sha256(loaded.modules()[loaded.store.module].encode()).hexdigest()
    return hashlib.sha256(Path(inspect.getfile(resolve(spec))).read_bytes()).hexdigest()
