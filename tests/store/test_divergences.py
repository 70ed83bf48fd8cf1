"""Each deliberate difference of optimized from the baseline, shown from both sides.

Every id in storage.optimized.DIVERGENCES must be pinned by a test marked
@pytest.mark.divergence("<id>") somewhere under tests/.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from pathlib import Path

import pytest

from storage import baseline, optimized
from storage.latency import LatencyCollector

TESTS_DIR = Path(__file__).parents[1]
DEFAULT_DIR = Path("astraguard/hil/results")


def _collector(value: float = 1.0) -> LatencyCollector:
    c = LatencyCollector()
    c.record_fault_detection("SAT-1", 0.0, value)
    return c


def _pinned_divergence_ids() -> set[str]:
    """Ids named by @pytest.mark.divergence("...") decorators in the test sources."""
    pinned = set()
    for source in TESTS_DIR.rglob("test_*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "divergence"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                pinned.add(node.args[0].value)
    return pinned


def test_every_divergence_is_pinned_and_every_pin_is_listed() -> None:
    assert _pinned_divergence_ids() == set(optimized.DIVERGENCES)


@pytest.mark.divergence("compare-runs-own-results-dir")
def test_compare_looks_up_the_other_run_under_its_own_results_dir(in_tmp_cwd: Path) -> None:
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        cls("a", "res").save_latency_stats(_collector(1.0))
        cls("b", "res").save_latency_stats(_collector(4.0))

    assert baseline.MetricsStorage("a", "res").compare_runs("b") == {
        "error": "Could not load metrics for run b",
        "metrics": {},
    }
    assert Path("astraguard/hil/results/b").is_dir()  # the baseline created the default folder
    shutil.rmtree("astraguard")

    result = optimized.MetricsStorage("a", "res").compare_runs("b")
    assert result["metrics"]["fault_detection"]["diff_ms"] == -3.0
    assert not Path("astraguard").exists()


@pytest.mark.divergence("run-id-validated")
@pytest.mark.parametrize("run_id", ["../escaped", "a/b", "/tmp/abs", ".", "..", "", "nul\0byte", "x" * 256])
def test_run_id_that_is_not_one_folder_name_is_refused(in_tmp_cwd: Path, run_id: str) -> None:
    with pytest.raises(ValueError, match="is not a single folder name") as raised:
        optimized.MetricsStorage(run_id, "res")
    assert str(raised.value) == f"run_id {run_id!r} is not a single folder name inside 'res'"
    if run_id == "../escaped":
        baseline.MetricsStorage(run_id, "res").save_latency_stats(_collector())
        assert Path("escaped/latency_summary.json").is_file()  # the baseline wrote outside results_dir


@pytest.mark.divergence("run-id-validated")
def test_where_the_os_has_a_second_separator_a_run_id_holding_it_is_refused_and_others_are_not(
    in_tmp_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On Windows os.altsep is "/" beside os.sep "\\"; on POSIX there is none, so pretend one here."""
    monkeypatch.setattr(optimized.os, "altsep", "|")
    with pytest.raises(ValueError, match="is not a single folder name"):
        optimized.MetricsStorage("a|b", "res")
    assert optimized.MetricsStorage("a-b", "res").run_id == "a-b"  # no second separator in it: accepted
    baseline.MetricsStorage("a|b", "res")  # the baseline takes it: on such a system, a folder "b" inside "a"


@pytest.mark.divergence("run-id-validated")
def test_compare_refuses_an_escaping_other_run_id(in_tmp_cwd: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("run_id '../b' is not a single folder name inside 'res'")):
        optimized.MetricsStorage("a", "res").compare_runs("../b")
    assert baseline.MetricsStorage("a", "res").compare_runs("../b")["error"] == "Could not load metrics for run ../b"


class _HalfWrittenCsv(LatencyCollector):
    """A collector whose CSV export dies after writing part of the file."""

    def export_csv(self, filename: str) -> None:
        with open(filename, "w") as f:
            f.write("timestamp,metric")
        raise OSError("no space left on device")


@pytest.mark.divergence("atomic-save")
def test_failed_save_keeps_previous_files_and_leaves_nothing_partial(tmp_path: Path) -> None:
    outcomes = {}
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        store = cls("r", str(tmp_path / cls.__module__))
        store.save_latency_stats(_collector(1.0))
        before = {p.name: p.read_bytes() for p in store.metrics_dir.iterdir()}
        with pytest.raises(OSError, match="no space left"):
            store.save_latency_stats(_HalfWrittenCsv())
        after = {p.name: p.read_bytes() for p in store.metrics_dir.iterdir()}
        outcomes[cls.__module__] = (before, after)

    base_before, base_after = outcomes["storage.baseline"]
    assert base_after["latency_raw.csv"] == b"timestamp,metric"  # torn file left for readers
    assert base_after["latency_summary.json"] != base_before["latency_summary.json"]

    opt_before, opt_after = outcomes["storage.optimized"]
    assert opt_after == opt_before  # same names (no temporaries), same bytes


@pytest.mark.divergence("export-csv-temp-path")
def test_overridden_export_csv_gets_a_temporary_path_in_the_run_folder(tmp_path: Path) -> None:
    class RecordingExport(LatencyCollector):
        def __init__(self) -> None:
            super().__init__()
            self.paths: list[str] = []

        def export_csv(self, filename: str) -> None:
            self.paths.append(filename)
            super().export_csv(filename)

    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        collector = RecordingExport()
        collector.record_agent_decision("S", 0, 2.0)
        saved = cls("r", str(tmp_path / cls.__module__)).save_latency_stats(collector)
        (called_with,) = collector.paths
        if cls is baseline.MetricsStorage:
            assert called_with == saved["raw"]
        else:
            assert Path(called_with).parent == Path(saved["raw"]).parent
            assert Path(called_with).name.startswith(".latency_raw.csv.")
            assert Path(called_with).name.endswith(".tmp")
            assert not Path(called_with).exists()  # replaced onto the final name
        assert Path(saved["raw"]).read_text().splitlines()[1].endswith(",agent_decision,S,2.0,0")
        assert json.loads(Path(saved["summary"]).read_text())["total_measurements"] == 1


@pytest.mark.divergence("summary-must-be-an-object")
@pytest.mark.parametrize(
    ("content", "kind"), [("[1, 2.5]", "an array"), ('"x"', "a string"), ("7", "a number"), ("true", "a boolean")]
)
def test_summary_that_is_not_a_json_object_is_reported_and_refused(
    in_tmp_cwd: Path, capsys: pytest.CaptureFixture[str], content: str, kind: str
) -> None:
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        cls("r", "res")
    Path("res/r/latency_summary.json").write_text(content)

    assert baseline.MetricsStorage("r", "res").get_run_metrics() == json.loads(content)
    assert capsys.readouterr().out == ""

    assert optimized.MetricsStorage("r", "res").get_run_metrics() is None
    assert capsys.readouterr().out == (
        "[ERROR] Failed to load metrics from res/r/latency_summary.json: "
        f"the summary is {kind} in JSON, not an object\n"
    )


@pytest.mark.divergence("summary-must-be-an-object")
def test_compare_with_a_list_summary_reports_it_instead_of_raising(in_tmp_cwd: Path) -> None:
    for cls in (baseline.MetricsStorage, optimized.MetricsStorage):
        cls("a", str(DEFAULT_DIR)).save_latency_stats(_collector(1.0))
    Path(DEFAULT_DIR, "b").mkdir()
    Path(DEFAULT_DIR, "b", "latency_summary.json").write_text("[1]")

    with pytest.raises(AttributeError, match="'list' object has no attribute 'get'"):
        baseline.MetricsStorage("a", str(DEFAULT_DIR)).compare_runs("b")
    assert optimized.MetricsStorage("a", str(DEFAULT_DIR)).compare_runs("b") == {
        "error": "Could not load metrics for run b",
        "metrics": {},
    }


def _open_counter(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Records every os.open the optimized store makes of a file called `name`."""
    opened: list[str] = []
    real_open = optimized.os.open

    def counting_open(path: str, *args: object, **kwargs: object) -> int:
        if Path(path).name == name:
            opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(optimized.os, "open", counting_open)
    return opened


@pytest.fixture
def cache_trusts_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    optimized.clear_summary_cache()
    monkeypatch.setattr(optimized, "_RACY_WINDOW_NS", 0)  # a file just written is cached at once


@pytest.mark.divergence("cached-metrics-interface")
def test_cached_metrics_is_the_proposals_debugging_interface(
    in_tmp_cwd: Path, cache_trusts_at_once: None, capsys: pytest.CaptureFixture[str]
) -> None:
    old = baseline.MetricsStorage("my_run")
    with pytest.raises(AttributeError, match="_cached_metrics"):
        _ = old._cached_metrics
    old._cached_metrics = None  # a plain attribute: it changes nothing the baseline does

    storage = optimized.MetricsStorage("my_run")
    storage.save_latency_stats(_collector(3.0))
    # The proposal's monitoring snippet, unchanged: it shows nothing before a read, the summary after one.
    print(f"Cache: {storage._cached_metrics}")
    saved = storage.get_run_metrics()
    print(f"Cache: {storage._cached_metrics}")
    assert capsys.readouterr().out == f"Cache: None\nCache: {saved}\n"

    shown = storage._cached_metrics
    shown["stats"].clear()  # a copy: changing it changes no later answer
    assert storage.get_run_metrics() == saved
    with pytest.raises(ValueError, match="only be cleared by assigning None"):
        storage._cached_metrics = {}


@pytest.mark.divergence("cached-metrics-interface")
def test_assigning_none_to_cached_metrics_sends_the_next_read_to_the_file(
    in_tmp_cwd: Path, cache_trusts_at_once: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = optimized.MetricsStorage("my_run")
    storage.save_latency_stats(_collector(3.0))
    opened = _open_counter(monkeypatch, "latency_summary.json")
    storage.get_run_metrics()
    storage.get_run_metrics()
    assert len(opened) == 1  # the second read was a cache hit
    # The proposal's benchmark script clears the cache this way before timing a cold read.
    storage._cached_metrics = None
    assert storage._cached_metrics is None
    storage.get_run_metrics()
    assert len(opened) == 2
    # use_cache=False, as the proposal documents it: both reads go to the file.
    storage.get_run_metrics(use_cache=False)
    storage.get_run_metrics(use_cache=False)
    assert len(opened) == 4


def test_compare_runs_between_cached_runs_reads_no_file_and_shares_nothing(
    in_tmp_cwd: Path, cache_trusts_at_once: None, monkeypatch: pytest.MonkeyPatch, frozen_clock: str
) -> None:
    """Not a divergence: compare_runs answers from the cache's views, and its answer is still the caller's own."""
    for run_id, value in (("a", 1.0), ("b", 4.0)):
        optimized.MetricsStorage(run_id, str(DEFAULT_DIR)).save_latency_stats(_collector(value))
    store = optimized.MetricsStorage("a", str(DEFAULT_DIR))
    first = store.compare_runs("b")
    opened = _open_counter(monkeypatch, "latency_summary.json")
    second = store.compare_runs("b")
    assert opened == []
    assert second == first
    second["metrics"]["fault_detection"]["diff_ms"] = 99.0
    assert store.compare_runs("b") == first
