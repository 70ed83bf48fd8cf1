"""bench.report.build builds REPORT.md and its figures from saved results only: a small sample of real runs.

tests/data/report_sample holds trimmed copies of real result files: three candidates' pyperf runs, one
pytest-benchmark run, a floors run and an equivalence record.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
from pathlib import Path

import pytest

from bench.errors import UsageError
from bench.model import floors
from bench.model.fixtures import Fixtures
from bench.model.floors import REFERENCE
from bench.model.results import load_pyperf
from bench.model.stats import RatioInterval
from bench.report import build as report
from bench.report import claims
from bench.report.claims import CLAIMS, Claim
from bench.runners import equivalence

SAMPLE = Path(__file__).parents[1] / "data" / "report_sample"
CANDIDATES_IN_SAMPLE = ("baseline", "optimized", "proposed")
VERDICTS = (claims.HOLDS, claims.FAILS, claims.PARTLY, claims.UNMEASURED)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _section(text: str, title: str) -> str:
    return text.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    output = tmp_path_factory.mktemp("report") / "REPORT.md"
    report.write_report(SAMPLE, output, fallback=SAMPLE)
    return output, output.read_text()


def test_table_has_a_row_for_every_case_and_candidate_in_the_sample(built: tuple[Path, str]) -> None:
    _, text = built
    for candidate in CANDIDATES_IN_SAMPLE:
        for case in load_pyperf(SAMPLE / "pyperf" / f"{candidate}.json"):
            row = re.compile(rf"^\| {re.escape(case)} +\| {candidate} +\| [0-9.]+ (ms|us|ns|s) ", re.MULTILINE)
            assert row.search(text), f"no table row for {case} / {candidate}"


def test_report_links_three_pngs_readable_at_github_width(built: tuple[Path, str]) -> None:
    output, text = built
    links = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", text)
    assert sorted(Path(link).name for link in links) == ["memory.png", "scaling.png", "speedups.png"]
    for link in links:
        header = (output.parent / link).read_bytes()[:24]
        assert header[:8] == PNG_MAGIC
        width, height = struct.unpack(">II", header[16:24])
        assert 800 <= width <= 1400, f"{link} is {width} px wide"
        assert height >= 400, f"{link} is {height} px high"


def test_claims_table_has_one_row_per_claim_and_candidate_with_a_verdict(built: tuple[Path, str]) -> None:
    _, text = built
    lines = _section(text, "Claimed against measured").splitlines()
    for claim in CLAIMS:
        for candidate in ("proposed", "optimized"):
            rows = [line for line in lines if line.startswith(f"| {claim.said} |") and f"| {candidate} |" in line]
            assert len(rows) == 1, f"{claim.said} / {candidate}: {len(rows)} rows"
            assert any(f"| **{verdict}** |" in rows[0] for verdict in VERDICTS), rows[0]


def test_closing_note_names_every_claim_once_per_candidate(built: tuple[Path, str]) -> None:
    _, text = built
    note = _section(text, "Closing note")
    for claim in CLAIMS:
        assert note.count(claim.said) == 2, claim.said


def test_scaling_exponents_are_listed_for_operations_at_several_sizes(built: tuple[Path, str]) -> None:
    _, text = built
    scaling = _section(text, "Scaling")
    for operation in ("save_latency_stats", "get_recent_runs"):
        for candidate in CANDIDATES_IN_SAMPLE:
            assert re.search(rf"^\| {operation} \| {candidate} \| [0-9,]+ to [0-9,]+ \| -?[0-9.]+ \|", scaling, re.M)


def test_counterexamples_of_a_differing_candidate_are_shown(built: tuple[Path, str]) -> None:
    _, text = built
    recorded = json.loads((SAMPLE / "equivalence.json").read_text())
    section = _section(text, "Equivalence")
    for record in recorded["candidates"]:
        passed = sum(test["outcome"] == "passed" for test in record["tests"])
        row = rf"^\| {record['candidate']} \| \*\*{record['verdict']}\*\* \| (?:{passed} passed|[^|]*?\d+ failed)"
        assert re.search(row, section, re.M), record["candidate"]
        if passed:
            assert re.search(rf"^\| {record['candidate']} \| [^|]+\| {passed} passed", section, re.M)
        else:
            assert not re.search(rf"^\| {record['candidate']} \| [^|]+\| \d+ passed", section, re.M)
        for test in record["tests"]:
            if test["outcome"] == "failed":
                assert f"`{test['test']}`" in section
                assert test["counterexample"].splitlines()[0] in section


def test_floors_are_set_beside_the_optimized_time(built: tuple[Path, str]) -> None:
    _, text = built
    section = _section(text, "Distance to the floor")
    measured = load_pyperf(SAMPLE / "floors.json")
    floors_only = [name for name in measured if not name.endswith(f"/{REFERENCE}")]
    assert floors_only
    for name in floors_only:
        case, floor = name.split("/")
        assert f"{case}/{REFERENCE}" in measured  # the floors run times the store beside each floor
        distance = r"([0-9.]+)x \[([0-9.]+), ([0-9.]+)\]"
        row = rf"^\| {re.escape(case)} \|.*\| {re.escape(floor)}: .*\| [0-9.]+ (ms|us|ns) \| {distance} \|$"
        found = re.search(row, section, re.M)
        assert found, name  # the store's distance to its floor, with its interval
        estimate, low, high = map(float, found.groups()[1:])
        assert low <= estimate <= high, found.group(0)


def test_provenance_carries_machine_commit_hashes_seed_and_dates(built: tuple[Path, str]) -> None:
    _, text = built
    section = _section(text, "Provenance")
    metadata = json.loads((SAMPLE / "pyperf" / "baseline.json").read_text())["metadata"]
    for expected in (
        metadata["cpu_model_name"],
        metadata["python_version"],
        metadata["baseline_sha256"][:12],
        f"seed {metadata['fixture_seed']}",
        metadata["bench_run"],
    ):
        assert expected in section
    assert re.search(r"^\| commit \| `[0-9a-f]{40}`", section, re.M)


def test_report_says_so_when_floors_and_verdicts_are_missing(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE / "pyperf", tmp_path / "pyperf")
    output = report.write_report(tmp_path, fallback=tmp_path)
    text = output.read_text()
    assert "**No floors measured**" in text
    assert "**No equivalence verdicts saved**" in text
    assert "answers not checked" in _section(text, "Claimed against measured")


def test_a_candidate_from_another_bench_run_is_left_out(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE / "pyperf", tmp_path / "pyperf")
    stale = tmp_path / "pyperf" / "proposed.json"
    stale.write_text(stale.read_text().replace('"bench_run":"', '"bench_run":"older-'))
    text = report.write_report(tmp_path, fallback=tmp_path).read_text()
    assert not re.search(r"^\| \S+ +\| proposed +\|", _section(text, "Speed and memory"), re.M)
    assert re.search(r"^\| left out \| proposed: from another bench run", _section(text, "Provenance"), re.M)


def test_a_run_with_one_size_per_operation_gets_a_report_without_a_scaling_figure(tmp_path: Path) -> None:
    (tmp_path / "pyperf").mkdir()
    for candidate in CANDIDATES_IN_SAMPLE:
        saved = json.loads((SAMPLE / "pyperf" / f"{candidate}.json").read_text())
        sizes_kept: dict[str, str] = {}
        for bench in saved["benchmarks"]:
            case = bench["metadata"]["name"]
            sizes_kept.setdefault(case.split("[")[0], case)
        saved["benchmarks"] = [b for b in saved["benchmarks"] if b["metadata"]["name"] in sizes_kept.values()]
        (tmp_path / "pyperf" / f"{candidate}.json").write_text(json.dumps(saved))
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "scaling.png").write_bytes(PNG_MAGIC)  # left by an earlier run
    text = report.write_report(tmp_path, fallback=tmp_path).read_text()
    assert "*No scaling figure: no operation was measured at two sizes or more" in text
    assert "scaling.png" not in text
    assert not (tmp_path / "report" / "scaling.png").exists()
    assert (tmp_path / "report" / "speedups.png").read_bytes()[:8] == PNG_MAGIC


def test_report_runs_no_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report ran something")

    # matplotlib's first import in a fresh environment builds its font cache with fc-list: that is no benchmark.
    import matplotlib.pyplot  # noqa: F401

    monkeypatch.setattr("subprocess.run", refuse)
    monkeypatch.setattr("subprocess.Popen", refuse)
    monkeypatch.setattr("pyperf.Runner", refuse)
    monkeypatch.setattr("bench.model.operations.prepare", refuse)
    assert report.write_report(SAMPLE, tmp_path / "REPORT.md", fallback=SAMPLE).is_file()


def test_report_without_a_baseline_run_fails_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyperf").mkdir()
    shutil.copy(SAMPLE / "pyperf" / "optimized.json", tmp_path / "pyperf")
    with pytest.raises(UsageError, match=r"baseline\.json"):
        report.load(tmp_path, fallback=tmp_path)


# --- the verdict rule --------------------------------------------------------------------------------

_CLAIM = Claim("30-50% faster", "op", "op", (1, 2), *claims.faster_by(30, 50))


def _interval(low: float, high: float) -> RatioInterval:
    return RatioInterval((low + high) / 2, low, high, 0.95, 10)


def test_percent_faster_is_read_as_the_fall_in_time() -> None:
    low, high = claims.faster_by(30, 50)
    assert low == pytest.approx(1 / 0.7)
    assert high == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1.5, 1.9, claims.HOLDS),  # within the range
        (3.0, 4.0, claims.HOLDS),  # above it: faster than claimed
        (0.9, 1.1, claims.FAILS),  # wholly below
        (1.2, 1.6, claims.PARTLY),  # across the lower end
    ],
)
def test_one_size_is_judged_by_where_the_interval_lies(low: float, high: float, expected: str) -> None:
    assert claims.judge_size(_interval(low, high), _CLAIM) == expected


def test_sizes_that_disagree_make_the_claim_partly_true() -> None:
    assert claims.judge({1: _interval(1.5, 1.9), 2: _interval(0.9, 1.0)}, _CLAIM) == claims.PARTLY
    assert claims.judge({1: _interval(0.5, 0.6), 2: _interval(0.9, 1.0)}, _CLAIM) == claims.FAILS


def test_a_claim_with_no_measured_size_is_not_measured() -> None:
    assert claims.judge({1: None, 3: _interval(1.5, 1.9)}, _CLAIM) == claims.UNMEASURED


# --- the floors and the equivalence record the report reads ---------------------------------------------


def test_save_floor_writes_the_baseline_bytes(tmp_path: Path) -> None:
    (floor,) = [f for f in floors.FLOORS if f.name == "format+write"]
    work = floor.build(Fixtures(cache=tmp_path / "cache"), 1_000, tmp_path)
    work()
    written = (tmp_path / "bench_save" / "latency_raw.csv").read_bytes()
    assert written == (tmp_path / "baseline" / "floor_check" / "latency_raw.csv").read_bytes()


def test_replace_floor_leaves_the_baseline_bytes_and_no_temporary(tmp_path: Path) -> None:
    (floor,) = [f for f in floors.FLOORS if f.name == "format+replace"]
    work = floor.build(Fixtures(cache=tmp_path / "cache"), 1_000, tmp_path)
    work()
    work()  # the second replaces files the first left
    assert sorted(p.name for p in (tmp_path / "bench_save").iterdir()) == ["latency_raw.csv", "latency_summary.json"]
    written = (tmp_path / "bench_save" / "latency_raw.csv").read_bytes()
    assert written == (tmp_path / "baseline" / "floor_check" / "latency_raw.csv").read_bytes()


def test_float_repr_floor_is_checked_against_the_csvs_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (floor,) = [f for f in floors.FLOORS if f.name == "float repr"]
    reprs = floor.build(Fixtures(cache=tmp_path / "cache"), 1_000, tmp_path / "good")()
    assert [len(column) for column in reprs] == [1_000] * 3
    # repr() of a str column is quoted, csv.writer's field is not: the check sees it
    monkeypatch.setattr(floors, "_NUMBER_FIELDS", ("timestamp", "duration_ms", "metric_type"))
    with pytest.raises(floors.FloorCheckError, match="not the CSV's metric_type"):
        floor.build(Fixtures(cache=tmp_path / "cache"), 1_000, tmp_path / "swapped")


def test_a_floor_that_does_less_than_the_operation_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = floors._file_texts

    def one_row_short(*args: object) -> tuple[str, str]:
        summary, csv_text = real(*args)
        return summary, csv_text[: csv_text.rindex("\r\n", 0, -2) + 2]

    monkeypatch.setattr(floors, "_file_texts", one_row_short)
    (floor,) = [f for f in floors.FLOORS if f.name == "format"]
    with pytest.raises(floors.FloorCheckError, match="CSV bytes differ"):
        floor.build(Fixtures(cache=tmp_path / "cache"), 1_000, tmp_path)


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="2">
<testcase classname="tests.store.test_equivalence" name="test_a[storage.proposed:MetricsStorage]" time="0.5"/>
<testcase classname="tests.store.test_equivalence" name="test_b[storage.proposed:MetricsStorage-as-is]" time="1.5">
<failure message="differential.Mismatch: get_run_metrics(): stale&#10;Falsifying example: test_b(&#10;)&#10;\
Explanation:&#10;    These lines were always and only run by failing examples:">traceback</failure></testcase>
</testsuite></testsuites>
"""


def test_equivalence_record_keeps_the_counterexample_and_its_operation(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(JUNIT)
    tests = equivalence.read_junit(junit, "storage.proposed:MetricsStorage", "proposed")
    assert [t["test"] for t in tests] == ["test_a[proposed]", "test_b[proposed-as-is]"]
    assert [t["outcome"] for t in tests] == ["passed", "failed"]
    assert tests[1]["operation"] == "get_run_metrics"
    shown = "differential.Mismatch: get_run_metrics(): stale\nFalsifying example: test_b(\n)"
    assert tests[1]["counterexample"] == shown
    assert equivalence.verdict(tests) == "differs"
    assert equivalence.verdict(tests[:1]) == "identical"
    assert equivalence.verdict([]) == "not checked"
