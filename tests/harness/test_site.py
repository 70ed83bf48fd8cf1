"""`publish` and `preview` without a browser: what the site's files hold, and the commands' errors.

tests/harness/test_site_browser.py opens the same kind of site in Chromium.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Final

import pytest

from bench.jobs.site_history import SKIPPED_REASON, STEPPED, write_history
from bench.report.site import slug, sparkline
from bench.report.site.charts import measured_stretches

REPO_ROOT: Final = Path(__file__).resolve().parents[2]


def _bench(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("published")
    write_history(base / "results" / "history", commits=20, machines=3)
    done = _bench(
        "publish",
        "--results",
        str(base / "results"),
        "--output",
        str(base / "site"),
        "--commit-url",
        "https://example.org/c/{sha}",
    )
    assert done.returncode == 0, done.stderr
    assert "published 11 pages (20 commits x 9 benchmarks x 3 machines, 540 points)" in done.stdout
    return base, base / "site"


def test_the_committed_results_publish(tmp_path: Path) -> None:
    """From a fresh clone: the history points and the bench run that are in results/."""
    done = _bench("publish", "--output", str(tmp_path / "site"))
    assert done.returncode == 0, done.stderr
    committed = sorted((REPO_ROOT / "results" / "history").glob("*.json"))
    benchmarks = {name for path in committed for name in json.loads(path.read_text())["benchmarks"]}
    drawn = json.loads((tmp_path / "site" / "site.json").read_text())["points"]
    assert set(drawn) == benchmarks
    assert all(count == len(committed) for count in drawn.values())  # one machine, every commit measured
    index = (tmp_path / "site" / "index.html").read_text()
    assert "optimized" in index and "speed-up over the original" in index  # the latest bench run's table


def test_every_page_is_written_offline(site: tuple[Path, Path]) -> None:
    _, folder = site
    pages = [folder / "index.html", folder / "scaling.html", *sorted((folder / "bench").glob("*.html"))]
    assert len(pages) == 11
    for page in pages:
        text = page.read_text()
        assert not re.search(r"""(src|href)=["']https?://""", text.replace('href="https://example.org/c/', "")), page
        for referenced in re.findall(r'<script src="([^"]+)"', text):
            assert (page.parent / referenced).resolve().is_file(), (page, referenced)
    assert (folder / "static" / "site.js").is_file()


def test_the_tables_hold_what_the_charts_draw(site: tuple[Path, Path]) -> None:
    base, folder = site
    drawn = json.loads((folder / "site.json").read_text())["points"]
    page = (folder / "bench" / f"{slug(STEPPED)}.html").read_text()
    table = page.split('<table class="data">', 1)[1]
    saved = [json.loads(p.read_text()) for p in (base / "results" / "history").glob("*.json")]
    measured = [p for p in saved if p["skipped"] is None]
    assert drawn[STEPPED] == len(saved)
    for point in measured[:10]:
        found = point["benchmarks"][STEPPED]
        assert f"{found['estimate']:.4f} [{found['low']:.4f}, {found['high']:.4f}]" in table
    assert table.count(f"skipped: {SKIPPED_REASON.replace(chr(39), '&#x27;')}") == 3  # the one commit, 3 machines
    assert "&lt;b&gt;" in page and "<b>" not in page  # the subjects' markup is text


def test_the_index_lists_changes_newest_first(site: tuple[Path, Path]) -> None:
    _, folder = site
    index = (folder / "index.html").read_text()
    events = index.split('<table id="events">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr data-name=\"([^\"]+)\">", events)
    assert rows == ["answers", STEPPED]  # the answer change (commit 18) is newer than the step (commit 13)
    assert "identical → differs in get_run_metrics" in events  # in full, behind the click
    # A short line in sight: each answer text's first clause.
    assert re.search(r"<details><summary>differs in get_run_metrics[^<]{0,20} \(was: identical\)</summary>", events)
    assert 'href="https://example.org/c/' in events
    assert len(re.findall(r'<tr data-name="[^"]+"><td><a href="bench/', index)) == 9
    assert index.count('<svg class="spark"') == 9


def test_a_commit_url_without_sha_is_refused(tmp_path: Path, site: tuple[Path, Path]) -> None:
    base, _ = site
    done = _bench(
        "publish",
        "--results",
        str(base / "results"),
        "--output",
        str(tmp_path / "s"),
        "--commit-url",
        "https://example.org/commit/",
    )
    assert done.returncode == 2
    assert "has no {sha}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "s").exists()


def test_nothing_to_publish_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    done = _bench("publish", "--results", str(tmp_path / "results"), "--output", str(tmp_path / "s"))
    assert done.returncode == 2
    assert "nothing to publish" in done.stderr
    missing = _bench("publish", "--results", str(tmp_path / "absent"))
    assert missing.returncode == 2 and "no saved results at" in missing.stderr


def test_a_broken_point_is_named(tmp_path: Path) -> None:
    history = tmp_path / "results" / "history"
    write_history(history, commits=4, machines=1)
    broken = sorted(history.glob("*.json"))[1]
    broken.write_text(broken.read_text()[:50])
    done = _bench("publish", "--results", str(tmp_path / "results"), "--output", str(tmp_path / "s"))
    assert done.returncode == 2
    assert broken.name in done.stderr and "Traceback" not in done.stderr


def test_republishing_replaces_the_site_whole(tmp_path: Path) -> None:
    history = tmp_path / "results" / "history"
    write_history(history, commits=5, machines=1)
    output = tmp_path / "site"
    assert _bench("publish", "--results", str(tmp_path / "results"), "--output", str(output)).returncode == 0
    (output / "stale.html").write_text("from before")
    assert _bench("publish", "--results", str(tmp_path / "results"), "--output", str(output)).returncode == 0
    assert not (output / "stale.html").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "site"]  # no staging folder left


def test_preview_without_a_site_says_so(tmp_path: Path) -> None:
    done = _bench("preview", str(tmp_path))
    assert done.returncode == 2
    assert "no site at" in done.stderr and "publish" in done.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="Ctrl-C is sent as SIGINT")
def test_preview_serves_on_a_free_port_until_ctrl_c(site: tuple[Path, Path]) -> None:
    _, folder = site
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "bench", "preview", str(folder)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = re.search(r"at (http://127\.0\.0\.1:\d+/)", server.stdout.readline())
        assert url is not None
        with urllib.request.urlopen(url.group(1) + "index.html", timeout=10) as response:
            assert response.status == 200
            assert b"Metrics store: history" in response.read()
    finally:
        server.send_signal(2)
        assert server.wait(timeout=20) == 0
    assert "stopped" in server.stderr.read()


def test_a_sparkline_rises_with_the_ratio() -> None:
    line = sparkline([1.0, 2.0, 4.0], width=100, height=24)
    points = [tuple(map(float, xy.split(","))) for xy in re.search(r'points="([^"]+)"', line).group(1).split()]
    assert [x for x, _ in points] == [0.0, 50.0, 100.0]
    assert points[0][1] > points[1][1] > points[2][1]  # higher ratio, nearer the top
    assert sparkline([1.0]) == ""


def test_the_scaling_page_draws_operations_measured_at_several_sizes(tmp_path: Path) -> None:
    """From the committed bench run: get_recent_runs and save_latency_stats at three sizes each; the others at one,
    named as left out; the proposal's listing says its answers differ."""
    done = _bench("publish", "--output", str(tmp_path / "site"))
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "site" / "scaling.html").read_text()
    drawn = re.findall(r"<h3>([a-z_]+)</h3>", page)
    assert drawn == ["get_recent_runs", "save_latency_stats"]
    assert "Measured at one size only, so not drawn: compare_runs, get_run_metrics_cold, get_run_metrics_warm" in page
    assert "proposed (answers differ)" in page


def test_a_skipped_commit_is_a_gap_in_the_band_as_in_the_line(site: tuple[Path, Path]) -> None:
    """bokeh's Band draws straight across a NaN: the chart draws a band per stretch of measured commits instead."""
    assert measured_stretches([1.0, 1.1, math.nan, 1.0, math.nan, math.nan, 0.9]) == [(0, 2), (3, 4), (6, 7)]
    assert measured_stretches([math.nan]) == [] and measured_stretches([1.0]) == [(0, 1)]
    _, published = site
    page = (published / "bench" / f"{slug('get_recent_runs[1000]')}.html").read_text()
    # One machine's series has its one skipped commit (write_history's) inside it: two bands, for each of 3 machines.
    assert page.count('"name":"Band"') == 2 * 3, page.count('"name":"Band"')
