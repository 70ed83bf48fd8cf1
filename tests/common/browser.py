"""A real headless Chromium for the dashboard's tests: Debian's, driven by Playwright (its own downloads are not
fetchable here). Where none is installed a test skips with the reason, except where the environment requires every
test to run (tests/common/environment.py, which .ci/run asks for): there it fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from bench.jobs.site_cost import chromium_path
from tests.common.environment import unavailable


@contextmanager
def chromium() -> Iterator[Any]:
    """A launched browser (Playwright's Browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright is not installed: pip install -e '.[test]'")
    path = chromium_path()
    if path is None:
        unavailable("no Chromium on PATH: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


# Where a renderer's i-th data point is on the screen: Bokeh's own scales map data to the canvas.
POINT_ON_SCREEN: Final = """([name, index, field]) => {
  const doc = Bokeh.documents[0];
  const renderer = [...doc.all_models].find((m) => m.name === name);
  const data = renderer.data_source.data;
  const view = Object.values(Bokeh.index)[0];
  const rect = view.canvas_view.el.getBoundingClientRect();
  return [rect.left + view.frame.x_scale.compute(data.x[index]),
          rect.top + view.frame.y_scale.compute(data[field][index])];
}"""

# How many points each named renderer draws: its view's indices (a filtered view draws a subset of its source).
POINTS_DRAWN: Final = """() => {
  const doc = Bokeh.documents[0];
  const view = Object.values(Bokeh.index)[0];
  const counts = {};
  for (const r of view.renderer_views.values()) {
    if (r.model.name) counts[r.model.name] = r.model.view.indices.count;
  }
  return counts;
}"""
