"""The deliberate divergences a candidate declares (its module's DIVERGENCES), each honoured here and nowhere else:
a candidate that declares none is compared strictly."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import storage.baseline
import storage.latency
from tests.common.comparing import Entry, Mismatch, entry_at, put_entry, short_repr
from tests.common.store_modules import looked_up
from tests.common.strategies import RAW_NAME, SUMMARY_NAME, is_one_folder_name

BaselineStore = storage.baseline.MetricsStorage


HANDLED_DIVERGENCES = {
    "compare-runs-own-results-dir": "compare_runs: the baseline is shown the other run where the candidate looks",
    "run-id-validated": "a run id that is not one folder name must raise ValueError; the baseline is not asked",
    "atomic-save": "a failed save may leave the previous files; links at the files' places are replaced",
    "export-csv-temp-path": "an overridden export_csv may be given the temporary path beside the CSV",
    # Declared, and never arising from these scenarios: the reliability tests pin them.
    "save-needs-writable-run-folder": "never arises: no scenario makes a folder read-only (and root ignores modes)",
    "summary-must-be-an-object": "the baseline's get_run_metrics is made to refuse a non-object as the candidate does",
    "summary-read-bounded": "never arises: no scenario makes a summary over 16 MiB, a FIFO or a device",
    "cached-metrics-interface": "never arises: no scenario touches _cached_metrics (tests/store/test_divergences.py)",
}


def declared_divergences(candidate_class: type) -> frozenset[str]:
    """The ids in the DIVERGENCES of the nearest module along the candidate's class and bases that declares any (none:
    compared strictly): a subclass that changes nothing keeps its parent's."""
    declared = frozenset(looked_up(candidate_class, "DIVERGENCES", {}))
    unknown = sorted(declared - HANDLED_DIVERGENCES.keys())
    if unknown:
        raise LookupError(
            f"{candidate_class.__module__} declares divergences the harness cannot allow yet: {unknown}; "
            "add each to HANDLED_DIVERGENCES and DivergenceRules in tests/common/differential.py"
        )
    return declared


def _store_without_folder(run_id: str, results_dir: str) -> Any:
    """A baseline store looking under results_dir that has not created its folder."""
    store = object.__new__(BaselineStore)
    store.run_id = run_id
    store.metrics_dir = Path(results_dir) / run_id
    return store


_TEMP_RAW = re.compile(r"(?P<folder>.*/)?\.latency_raw\.csv\.[0-9a-f]+\.tmp", re.DOTALL)


@dataclass(frozen=True)
class SavePlaces:
    """The two files a save writes, as they were before it on each side."""

    baseline: dict[Path, Entry | None]
    candidate: dict[Path, Entry | None]


class DivergenceRules:
    """Every adaptation the harness makes for a declared divergence, each keyed by its id."""

    def __init__(self, declared: frozenset[str]) -> None:
        self.declared = declared

    def refuses(self, run_id: Any) -> bool:
        """run-id-validated: the candidate must refuse this id with ValueError."""
        return "run-id-validated" in self.declared and isinstance(run_id, str) and not is_one_folder_name(run_id)

    @contextlib.contextmanager
    def baseline_compare_lookup(self, results_dir: str) -> Iterator[None]:
        """compare-runs-own-results-dir: the baseline's compare_runs reads the other run under results_dir."""
        if "compare-runs-own-results-dir" not in self.declared:
            yield
            return
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(storage.baseline, "MetricsStorage", lambda run_id: _store_without_folder(run_id, results_dir))
            yield

    @contextlib.contextmanager
    def baseline_reads(self) -> Iterator[None]:
        """summary-must-be-an-object: the baseline's reads refuse a summary that is not a JSON object."""
        if "summary-must-be-an-object" not in self.declared:
            yield
            return
        from storage.optimized import not_an_object

        original = BaselineStore.get_run_metrics

        def refusing(store: Any) -> Any:
            value = original(store)
            reason = not_an_object(value)
            if reason is None:
                return value
            print(f"[ERROR] Failed to load metrics from {store.metrics_dir / SUMMARY_NAME}: {reason}")
            return None

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(BaselineStore, "get_run_metrics", refusing)
            yield

    def prepare_save(self, baseline_folder: Path, candidate_folder: Path) -> SavePlaces | None:
        """atomic-save: notes both sides' files; unlinks the baseline's links (replaced, not written through)."""
        if "atomic-save" not in self.declared:
            return None
        b_places = [baseline_folder / SUMMARY_NAME, baseline_folder / RAW_NAME]
        c_places = [candidate_folder / SUMMARY_NAME, candidate_folder / RAW_NAME]
        places = SavePlaces({p: entry_at(p) for p in b_places}, {p: entry_at(p) for p in c_places})
        for path, entry in places.baseline.items():
            if entry is not None and (entry[0] == "link" or (entry[0] == "file" and path.stat().st_nlink > 1)):
                path.unlink()
        return places

    def settle_failed_save(self, call: str, places: SavePlaces | None) -> None:
        """atomic-save: after a save failed on both sides, each file is the previous one or the baseline's.

        The baseline's side is then given the candidate's files, so later steps start from the same state.
        """
        if places is None:
            return
        for (b_path, _), (c_path, c_before) in zip(places.baseline.items(), places.candidate.items(), strict=True):
            b_after, c_after = entry_at(b_path), entry_at(c_path)
            if c_after not in (c_before, b_after):
                raise Mismatch(
                    "save_latency_stats",
                    call,
                    f"atomic-save: after a failed save {c_path.name} must be the previous file or the baseline's; "
                    f"before {short_repr(c_before)}, baseline left {short_repr(b_after)}, "
                    f"candidate left {short_repr(c_after)}",
                )
            put_entry(b_path, c_after)

    def export_path_as_baseline(self, path: Any) -> Any:
        """export-csv-temp-path: the temporary path an override is given stands for the final one."""
        if "export-csv-temp-path" not in self.declared or not isinstance(path, str):
            return path
        match = _TEMP_RAW.fullmatch(path)
        return path if match is None else (match["folder"] or "") + RAW_NAME
