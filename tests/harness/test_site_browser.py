"""The published dashboard in a real headless Chromium: what a reader sees, page by page.

The site is built by `python -m bench publish` from a generated history (tests.common.site_history), whose step,
gap and answer change sit at known commits; each test checks one thing a reader relies on. Screenshots of each
page type are kept under the session's temporary folder, named in the test's output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from bench.jobs.site_history import SKIPPED_REASON, STEPPED, Planted, write_history
from bench.report.site import slug
from tests.common.browser import POINT_ON_SCREEN, POINTS_DRAWN, chromium

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
COMMIT_URL: Final = "https://example.org/repo/commit/{sha}"
VIEWPORT: Final = {"width": 1300, "height": 1000}


def _publish(results: Path, output: Path, *extra: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "publish", "--results", str(results), "--output", str(output), *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Planted, Path]:
    base = tmp_path_factory.mktemp("site")
    planted = write_history(base / "results" / "history", commits=30, machines=2)
    _publish(base / "results", base / "site", "--commit-url", COMMIT_URL)
    return planted, base / "site"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that records every console error and uncaught exception."""
    opened = browser.new_page(viewport=VIEWPORT)
    opened.errors = []
    opened.on("console", lambda m: opened.errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: opened.errors.append(str(e)))
    yield opened
    opened.close()


def _open(page: Any, path: Path, chart: bool = True) -> None:
    page.goto(path.as_uri())
    if chart:
        page.wait_for_function("() => window.Bokeh && Object.keys(Bokeh.index).length > 0")
        page.locator(".chart").scroll_into_view_if_needed()


def _screenshot(page: Any, name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.getbasetemp() / "site-screenshots"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def _saved(planted: Planted, benchmark: str) -> int:
    """Saved files that measured the benchmark, or could not serve: each is a point on its chart."""
    count = 0
    for path in planted.folder.glob("*.json"):
        point = json.loads(path.read_text())
        count += point["skipped"] is not None or benchmark in point["benchmarks"]
    return count


def test_no_console_error_on_any_page(
    published: tuple[Planted, Path], page: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    planted, site = published
    pages = [("index", site / "index.html", False), ("scaling", site / "scaling.html", False)]
    pages += [(f"bench-{slug(name)}", site / "bench" / f"{slug(name)}.html", True) for name in planted.benchmarks]
    for name, path, chart in pages:
        _open(page, path, chart)
        if name in ("index", "scaling", f"bench-{slug(STEPPED)}"):
            assert _screenshot(page, name, tmp_path_factory).stat().st_size > 10_000
    assert page.errors == []


def test_each_chart_draws_every_saved_point(published: tuple[Planted, Path], page: Any) -> None:
    planted, site = published
    for name in planted.benchmarks:
        _open(page, site / "bench" / f"{slug(name)}.html")
        drawn = page.evaluate(POINTS_DRAWN)
        measured = sum(count for renderer, count in drawn.items() if renderer.startswith("points:"))
        assert measured + drawn["skipped"] == _saved(planted, name), (name, drawn)
        assert drawn["skipped"] == len(planted.machines)  # the one commit that could not serve, on each machine
    assert page.errors == []


def test_hovering_a_point_shows_its_commit_and_interval(published: tuple[Planted, Path], page: Any) -> None:
    planted, site = published
    _open(page, site / "bench" / f"{slug(STEPPED)}.html")
    machine = planted.machines[0]
    index = 4  # the fifth point of the first machine's series
    x, y = page.evaluate(POINT_ON_SCREEN, [f"points:{machine}", index, "ratio"])
    page.mouse.move(x, y)
    detail = page.locator("#detail")
    sha = planted.shas[index]
    assert detail.get_attribute("data-commit") == sha
    text = detail.inner_text()
    point = json.loads((planted.folder / f"{sha[:12]}-{machine}.json").read_text())["benchmarks"][STEPPED]
    other = planted.folder / f"{sha[:12]}-{planted.machines[1]}.json"
    intervals = {
        f"{p['estimate']:.4f} [{p['low']:.4f}, {p['high']:.4f}]"
        for p in (point, json.loads(other.read_text())["benchmarks"][STEPPED])
    }
    assert sha[:12] in text and "95% interval" in text
    assert any(interval in text for interval in intervals), (text, intervals)  # either machine's point lies there
    assert "commit 4: change <b>4</b> & more" in text  # the subject as text, its markup not interpreted
    tooltip = page.get_by_text(f"{sha[:12]} ").first  # Bokeh's own tooltip names the commit too
    assert tooltip.is_visible()


def test_a_skipped_commit_shows_its_reason(published: tuple[Planted, Path], page: Any) -> None:
    planted, site = published
    _open(page, site / "bench" / f"{slug(STEPPED)}.html")
    x, y = page.evaluate(POINT_ON_SCREEN, ["skipped", 0, "y"])
    page.mouse.move(x, y)
    detail = page.locator("#detail")
    assert detail.get_attribute("data-commit") == planted.shas[planted.skipped_at]
    assert f"could not be measured: {SKIPPED_REASON}" in detail.inner_text()


def test_the_change_point_sits_at_the_planted_commit(published: tuple[Planted, Path], page: Any) -> None:
    planted, site = published
    _open(page, site / "bench" / f"{slug(STEPPED)}.html")
    found = page.evaluate(
        "() => [...Bokeh.documents[0].all_models].find((m) => m.name === 'change').data_source.data.x"
    )
    assert list(found) == [planted.step_at]
    x, y = page.evaluate(POINT_ON_SCREEN, ["change", 0, "y"])
    page.mouse.move(x, y)
    detail = page.locator("#detail")
    assert detail.get_attribute("data-commit") == planted.shas[planted.step_at]
    step = re.search(r"change point: \+([0-9.]+)% \[\+([0-9.]+)%, \+([0-9.]+)%\]", detail.inner_text())
    assert step is not None, detail.inner_text()  # a step of +60% (STEP = 1.6), with its interval
    estimate, low, high = (float(part) for part in step.groups())
    assert low < 60 < high and abs(estimate - 60) < 5
    for name in planted.benchmarks:  # the flat ones have no step
        if name != STEPPED:
            _open(page, site / "bench" / f"{slug(name)}.html")
            assert (
                page.evaluate("() => [...Bokeh.documents[0].all_models].filter((m) => m.name === 'change').length") == 0
            )


def test_clicking_a_point_links_the_commit_by_the_template(published: tuple[Planted, Path], page: Any) -> None:
    planted, site = published
    _open(page, site / "bench" / f"{slug(STEPPED)}.html")
    machine = planted.machines[1]
    x, y = page.evaluate(POINT_ON_SCREEN, [f"points:{machine}", 2, "ratio"])
    page.mouse.click(x, y)
    link = page.locator("#detail a.commit-link")
    sha = page.locator("#detail").get_attribute("data-commit")
    assert sha in planted.shas[:4]
    assert link.get_attribute("href") == COMMIT_URL.format(sha=sha)
    table_link = page.locator("table.data a.commit-link").first
    assert table_link.get_attribute("href") == COMMIT_URL.format(sha=planted.shas[0])


def test_answers_that_differ_are_marked(published: tuple[Planted, Path], page: Any) -> None:
    planted, site = published
    _open(page, site / "bench" / "get_run_metrics_cold-5000.html")
    drawn = page.evaluate(POINTS_DRAWN)
    marked = sum(count for renderer, count in drawn.items() if renderer.startswith("differ:"))
    assert marked == (len(planted.shas) - planted.differ_from) * len(planted.machines)
    _open(page, site / "bench" / "compare_runs-5000.html")  # compare_runs' answers never differ here
    assert not any(name.startswith("differ:") for name in page.evaluate(POINTS_DRAWN))


def test_the_filter_finds_a_benchmark_among_200(tmp_path_factory: pytest.TempPathFactory, page: Any) -> None:
    base = tmp_path_factory.mktemp("many")
    names = [f"operation_{i % 20}[{10 ** (i // 20 % 10)}]" for i in range(200)]
    write_history(base / "results" / "history", commits=6, machines=1, benchmarks=names)
    _publish(base / "results", base / "site")
    _open(page, base / "site" / "index.html", chart=False)
    rows = page.locator("#benchmarks tbody tr")
    assert rows.count() == 200
    page.fill("#filter", "operation_7[")
    expected = sum(1 for name in names if "operation_7[" in name)
    visible = page.locator("#benchmarks tbody tr:not([hidden])")
    assert visible.count() == expected == int(page.inner_text("#shown"))
    page.fill("#filter", "[1000]")
    assert page.locator("#benchmarks tbody tr:not([hidden])").count() == sum(1 for n in names if "[1000]" in n)
    assert page.errors == []


@pytest.mark.skipif(sys.platform != "linux", reason="the served site's test uses a Linux signal")
def test_preview_serves_the_site_to_a_browser(published: tuple[Planted, Path], page: Any) -> None:
    _, site = published
    server = subprocess.Popen(
        [sys.executable, "-m", "bench", "preview", str(site)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        page.goto(url + f"bench/{slug(STEPPED)}.html")
        page.wait_for_function("() => window.Bokeh && Object.keys(Bokeh.index).length > 0")
        assert page.errors == []
    finally:
        server.send_signal(2)  # Ctrl-C
        assert server.wait(timeout=20) == 0
