"""What the dashboard costs, against its targets: `publish` over a generated history of 1,000 commits x 9 benchmarks x
4 machines, the time until its largest page has drawn in headless Chromium, and the site's size.

Each is an absolute time, since the targets are (publish <= 10 s, draw <= 2 s, site <= 5 MB): the median of
`rounds` runs with its range, never one run. publish runs as the user runs it, a fresh `python -m bench publish`
process (interpreter, imports and E-Divisive included); the page is opened afresh in a new browser context each
round, from file://.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from bench.errors import HarnessError, UsageError
from bench.jobs.site_history import write_history
from bench.model import progress, results

TARGETS: Final = {"publish_s": 10.0, "draw_s": 2.0, "site_bytes": 5_000_000}
BROWSERS: Final = ("chromium", "chromium-browser", "google-chrome")
DRAWN: Final = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"


def chromium_path() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def _spread(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def _publish(history: Path, site: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "publish", "--results", str(history.parent), "--output", str(site)],
        cwd=results.REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise HarnessError(f"publish failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    return elapsed


def _draw_times(page: Path, rounds: int) -> list[float]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        raise UsageError("site-cost drives Chromium with Playwright: pip install -e '.[test]'") from e
    path = chromium_path()
    if path is None:
        raise UsageError("site-cost needs a Chromium on PATH: apt-get install chromium")
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            for _ in range(rounds):
                context = browser.new_context(viewport={"width": 1300, "height": 1000})
                opened = context.new_page()
                started = time.perf_counter()
                opened.goto(page.as_uri())
                opened.wait_for_function(DRAWN, timeout=60_000, polling=10)
                times.append(time.perf_counter() - started)
                context.close()
        finally:
            browser.close()
    return times


def measure(rounds: int, commits: int, machines: int, output: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="site-cost-") as folder:
        history = Path(folder) / "results" / "history"
        planted = write_history(history, commits=commits, machines=machines)
        site = Path(folder) / "site"
        publish_times = []
        with progress.task("publish", rounds) as step:
            for round_ in range(rounds):
                step(f"round {round_ + 1}")
                publish_times.append(_publish(history, site))
        pages = sorted((site / "bench").glob("*.html"), key=lambda p: p.stat().st_size)
        largest = pages[-1]
        draw = _draw_times(largest, rounds)
        size = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        document = {
            "history": {
                "commits": commits,
                "benchmarks": len(planted.benchmarks),
                "machines": machines,
                "points": commits * machines,
            },
            "rounds": rounds,
            "publish_s": _spread(publish_times),
            "draw_s": _spread(draw),
            "largest_page": {"name": largest.name, "bytes": largest.stat().st_size},
            "site_bytes": size,
            "targets": TARGETS,
        }
    results.write_json_atomically(output, document)
    return document
