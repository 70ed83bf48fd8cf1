"""The history dashboard: a static site built from the saved results alone (`publish`), never by measuring.

Bokeh draws the charts: its script ships in its own wheel (1.3 MB), so the site embeds it and works offline and
from file://, with a band per interval, hover and click; plotly's one bundle (4.6 MB) would leave no room under
the 5 MB budget, and Vega-Altair loads vega from a CDN. The data a chart needs travels compactly: one commits.js
for the whole site (sha, subject, date per first-parent position), and per machine only numbers (Bokeh encodes
arrays in binary). Every chart has an HTML table beside it for readers without JavaScript, and the index's
sparklines are small inline SVGs, so that it opens at once with 200 benchmarks.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bench.errors import UsageError
from bench.history.changes import change_points
from bench.model.results import write_text_atomically
from bench.report.site.charts import bokeh
from bench.report.site.data import Site, gather
from bench.report.site.pages import (
    COMMITS_FILE,
    STATIC,
    benchmark_page,
    commits_script,
    index_page,
    scaling_page,
    slug,
    sparkline,
)

__all__ = ["Published", "build", "gather", "slug", "sparkline"]
ASSETS: Final = Path(__file__).with_name("assets")


@dataclass(frozen=True)
class Published:
    folder: Path
    pages: int
    points: dict[str, int]  # benchmark -> points drawn
    size: int  # bytes, the whole site


def check_commit_url(template: str | None) -> str | None:
    if template is None:
        return None
    if "{sha}" not in template:
        raise UsageError(f"--commit-url {template!r} has no {{sha}}: e.g. https://github.com/OWNER/REPO/commit/{{sha}}")
    try:
        template.format(sha="0" * 40)
    except (KeyError, IndexError, ValueError) as e:
        raise UsageError(f"--commit-url {template!r}: only {{sha}} may be a field ({e})") from e
    return template


def build(site: Site, output: Path, commit_url: str | None, step: Callable[[str], None] | None = None) -> Published:
    """Writes the site into output, built afresh beside it and swapped in whole: a reader never sees half a site."""
    return _build(site, output, check_commit_url(commit_url), step)


def _build(site: Site, output: Path, commit_url: str | None, step: Callable[[str], None] | None) -> Published:
    library = bokeh()
    staging = output.with_name(f".{output.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / STATIC).mkdir(parents=True)
    script = Path(library.__file__).parent / "server" / "static" / "js" / "bokeh.min.js"
    shutil.copyfile(script, staging / STATIC / f"bokeh-{library.__version__}.min.js")
    for asset in ASSETS.iterdir():
        if asset.suffix in (".css", ".js"):
            shutil.copyfile(asset, staging / STATIC / asset.name)
    write_text_atomically(staging / COMMITS_FILE, commits_script(site))
    drawn = {}
    site.change_points[:] = change_points(site.points, site.benchmarks)
    for name in site.benchmarks:
        if step is not None:
            step(name)
        page, drawn[name] = benchmark_page(site, name, commit_url)
        write_text_atomically(staging / "bench" / f"{slug(name)}.html", page)
    write_text_atomically(staging / "index.html", index_page(site, commit_url))
    write_text_atomically(staging / "scaling.html", scaling_page(site, commit_url))
    write_text_atomically(
        staging / "site.json",
        json.dumps({"points": drawn, "commits": len(site.commits), "machines": site.machines}, indent=1) + "\n",
    )
    retired = output.with_name(f".{output.name}.retired")
    shutil.rmtree(retired, ignore_errors=True)
    if output.exists():
        output.rename(retired)
    staging.rename(output)
    shutil.rmtree(retired, ignore_errors=True)
    size = sum(path.stat().st_size for path in output.rglob("*") if path.is_file())
    return Published(output, 2 + len(site.benchmarks), drawn, size)
