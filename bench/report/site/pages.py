"""The pages: HTML written here, with each chart's Bokeh script and div embedded and its data as a table beside it."""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from typing import Final

from bench.history.points import differs_in
from bench.model.stats import RatioInterval
from bench.report.site.charts import benchmark_chart, bokeh, scaling_figures
from bench.report.site.data import Site
from bench.stores.candidates import BASELINE

STATIC: Final = "static"
COMMITS_FILE: Final = "commits.js"


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "benchmark"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str, *, depth: int, commit_url: str | None, head: str = "") -> str:
    """A page; one with a chart (its Bokeh script in `head`) loads Bokeh, the index does not (it opens at once)."""
    up = "../" * depth
    script = f'<script src="{up}{STATIC}/bokeh-{bokeh().__version__}.min.js"></script>' if head else ""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{_e(title)} · metrics store history</title>
<link rel="stylesheet" href="{up}{STATIC}/site.css">
{script}
<script src="{up}{COMMITS_FILE}"></script>
<script src="{up}{STATIC}/site.js"></script>
{head}
</head>
<body data-commit-url="{_e(commit_url or "")}">
<header><h1>{_e(title)}</h1><nav><a href="{up}index.html">index</a><a href="{up}scaling.html">scaling</a></nav></header>
{body}
</body>
</html>
"""


def _commit_cell(sha: str, commit_url: str | None) -> str:
    code = f"<code>{_e(sha[:12])}</code>"
    return f'<a class="commit-link" href="{_e(commit_url.format(sha=sha))}">{code}</a>' if commit_url else code


def _interval(found: RatioInterval) -> str:
    return f"{found.estimate:.4f} [{found.low:.4f}, {found.high:.4f}]"


def sparkline(values: Sequence[float], width: int = 120, height: int = 24) -> str:
    """The trend of a benchmark's ratios, as an inline SVG polyline (log scale): no script, no request."""
    finite = [math.log(v) for v in values if v > 0 and math.isfinite(v)]
    if len(finite) < 2:
        return ""
    low, high = min(finite), max(finite)
    span = (high - low) or 1.0
    step = width / (len(finite) - 1)
    xy = " ".join(f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}" for i, v in enumerate(finite))
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="trend of {len(finite)} points"><polyline fill="none" stroke="#1f77b4" stroke-width="1.2" '
        f'points="{xy}"/></svg>'
    )


def _benchmark_table(site: Site, benchmark: str, commit_url: str | None) -> str:
    """The chart's data as a table: a row per commit, a column per machine."""
    cells: dict[tuple[str, str], str] = {}
    for p in site.points:
        if p.skipped is not None:
            cells[p.commit, p.machine_id] = f'<span class="skipped">skipped: {_e(p.skipped)}</span>'
        elif benchmark in p.benchmarks:
            text = _e(_interval(p.benchmarks[benchmark]))
            cells[p.commit, p.machine_id] = (
                f'<span class="differ">{text} answers differ</span>' if differs_in(p, benchmark) else text
            )
    head = "".join(f"<th>machine {_e(m)}</th>" for m in site.machines)
    rows = []
    for c in site.commits:
        found = [cells.get((c.sha, m), "") for m in site.machines]
        if any(found):
            cols = "".join(f"<td>{cell}</td>" for cell in found)
            rows.append(f"<tr><td>{_commit_cell(c.sha, commit_url)}</td><td>{_e(c.date[:10])}</td>{cols}</tr>")
    return (
        f'<div class="scroll"><table class="data"><thead><tr><th>commit</th><th>date</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def benchmark_page(site: Site, benchmark: str, commit_url: str | None) -> tuple[str, int]:
    script, div, drawn = benchmark_chart(site, benchmark)
    steps = [cp for cp in site.change_points if cp.benchmark == benchmark]
    listed = "".join(
        f"<li>{_commit_cell(cp.commit, commit_url)} {_e(cp.subject[:80])}: step {_e(cp.text())}</li>"
        for cp in reversed(steps)
    )
    body = f"""
<p class="note">Ratio of each commit's time to the frozen original's, with its 95% interval as a band, one series per
machine. A red cross: that commit's answers differ from the original's. A grey triangle: the commit could not be
measured (hover for why). Dashed: the level between change points (E-Divisive, on the machines' median).</p>
<div class="chart">{div}</div>
<div id="detail" aria-live="polite">Hover over or click a point.</div>
<h2>Change points</h2>
<ul>{listed or "<li>none</li>"}</ul>
<details open><summary>The chart's data ({drawn} points)</summary>
{_benchmark_table(site, benchmark, commit_url)}
</details>
"""
    return _page(benchmark, body, depth=1, commit_url=commit_url, head=script), drawn


def _latest_table(site: Site) -> str:
    if not site.latest:
        return '<p class="note">No bench run saved.</p>'
    rows = []
    for row in site.latest:
        if row.candidate == "baseline":
            continue  # its speed-up over itself
        if row.speedup is None:
            speed = "no pyperf ratio"
        else:
            s = row.speedup
            speed = f"{s.estimate:.2f}x [{s.low:.2f}, {s.high:.2f}]"
        mark = ' <span class="differ">answers differ</span>' if row.answers_differ else ""
        rows.append(
            f'<tr data-name="{_e(row.case)}"><td>{_e(row.case)}</td><td>{_e(row.candidate)}</td>'
            f"<td>{_e(speed)}{mark}</td><td>{'' if row.target is None else _e(f'{row.target:g}x')}</td></tr>"
        )
    return (
        '<div class="scroll"><table id="latest"><thead><tr><th>benchmark</th><th>candidate</th>'
        "<th>speed-up over the original [95% interval]</th><th>target</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _short_answer(text: str) -> str:
    """An answer verdict's first clause, "store differs in get_run_metrics", cut to a line: the rest behind a click."""
    first = text.split(";", 1)[0].split(":", 1)[0]
    return first if len(first) <= 60 else first[:59] + "…"


def _events(site: Site, commit_url: str | None) -> str:
    """Change points and answer changes together, newest first (asv's regressions page)."""
    events: list[tuple[int, str]] = []
    for cp in site.change_points:
        kind = "slower" if cp.slower else "faster"
        events.append(
            (
                site.position[cp.commit],
                f'<tr data-name="{_e(cp.benchmark)}"><td>{_commit_cell(cp.commit, commit_url)}</td>'
                f"<td>{_e(cp.date[:10])}</td><td>{_e(cp.subject[:70])}</td>"
                f'<td><a href="bench/{slug(cp.benchmark)}.html">{_e(cp.benchmark)}</a></td>'
                f'<td class="{"differ" if cp.answers_differ else kind}">{_e(cp.text())}</td></tr>',
            )
        )
    for change in site.answer_changes:
        events.append(
            (
                site.position.get(change.commit, -1),
                f'<tr data-name="answers"><td>{_commit_cell(change.commit, commit_url)}</td>'
                f"<td>{_e(change.date[:10])}</td><td>{_e(change.subject[:70])}</td><td>answers</td>"
                f'<td class="differ"><details><summary>{_e(_short_answer(change.after))} (was: '
                f"{_e(_short_answer(change.before))})</summary>{_e(change.before)} → {_e(change.after)}"
                "</details></td></tr>",
            )
        )
    if not events:
        return '<p class="note">No change point and no answer change in the saved history.</p>'
    events.sort(key=lambda e: -e[0])
    return (
        '<div class="scroll"><table id="events"><thead><tr><th>commit</th><th>date</th><th>subject</th>'
        "<th>benchmark</th><th>change [95% interval]</th></tr></thead>"
        f"<tbody>{''.join(text for _, text in events)}</tbody></table></div>"
    )


def _benchmark_rows(site: Site) -> str:
    rows = []
    for name in site.benchmarks:
        series = site.series[name]
        latest = (
            f"{series.estimates[-1]:.4f} [{series.lows[-1]:.4f}, {series.highs[-1]:.4f}]" if series.estimates else ""
        )
        steps = sum(1 for cp in site.change_points if cp.benchmark == name)
        rows.append(
            f'<tr data-name="{_e(name)}"><td><a href="bench/{slug(name)}.html">{_e(name)}</a></td>'
            f"<td>{sparkline(series.estimates)}</td><td>{_e(latest)}</td><td>{len(series.estimates)}</td>"
            f"<td>{steps}</td></tr>"
        )
    return "".join(rows)


def index_page(site: Site, commit_url: str | None) -> str:
    notes = "".join(f'<p class="note">{_e(note)}</p>' for note in site.notes)
    plural = "s" if len(site.machines) != 1 else ""
    sources = "; ".join(f"{kind}: <code>{_e(where)}</code>" for kind, where in site.sources.items())
    body = f"""
<p><label>Find a benchmark or parameter: <input id="filter" type="search" placeholder="e.g. compare_runs or 1000"
 autocomplete="off"></label> <span class="note"><span id="shown">{len(site.benchmarks)}</span> of
 {len(site.benchmarks)} benchmarks shown</span></p>
{notes}
<h2>Change points and answer changes, newest first</h2>
{_events(site, commit_url)}
<h2>Benchmarks over {len(site.commits)} commits, {len(site.machines)} machine{plural}</h2>
<div class="scroll"><table id="benchmarks"><thead><tr><th>benchmark</th><th>trend</th>
<th>latest ratio to the original [95% interval]</th><th>commits</th><th>change points</th></tr></thead>
<tbody>{_benchmark_rows(site)}</tbody></table></div>
<h2>The latest bench run</h2>
{_latest_table(site)}
<p class="note">Built from saved files only ({sources}).</p>
"""
    return _page("Metrics store: history", body, depth=0, commit_url=commit_url)


def scaling_curves(site: Site) -> tuple[dict[str, dict[str, list[tuple[int, RatioInterval]]]], list[str]]:
    """(operation -> candidate -> (size, speed-up) in size order, the operations measured at one size only), from
    the latest bench run. The baseline is left out; a candidate whose answers differ says so in its name."""
    curves: dict[str, dict[str, list[tuple[int, RatioInterval]]]] = {}
    for row in site.latest:
        if row.speedup is None or row.candidate == BASELINE:
            continue
        operation, _, size = row.case.partition("[")
        name = row.candidate + (" (answers differ)" if row.answers_differ else "")
        curves.setdefault(operation, {}).setdefault(name, []).append((int(size.rstrip("]")), row.speedup))
    for by_candidate in curves.values():
        for found in by_candidate.values():
            found.sort(key=lambda item: item[0])
    one_size = sorted(op for op, found in curves.items() if all(len(points) < 2 for points in found.values()))
    return {op: curves[op] for op in sorted(curves) if op not in one_size}, one_size


def scaling_page(site: Site, commit_url: str | None) -> str:
    """Speed-up over the original against size, per operation and candidate, from the latest bench run."""
    curves, one_size = scaling_curves(site)
    left_out = (
        f'<p class="note">Measured at one size only, so not drawn: {_e(", ".join(one_size))} (the index\'s table '
        "has their speed-ups).</p>"
        if one_size
        else ""
    )
    if not curves:
        return _page(
            "Scaling",
            f'<p class="note">No operation measured at two sizes or more to draw.</p>{left_out}',
            depth=0,
            commit_url=commit_url,
        )
    script, div = scaling_figures(curves)
    tables = []
    for operation, by_candidate in curves.items():
        rows = [
            f"<tr><td>{_e(candidate)}</td><td>{size}</td><td>{s.estimate:.2f}x [{s.low:.2f}, {s.high:.2f}]</td></tr>"
            for candidate, found in by_candidate.items()
            for size, s in found
        ]
        tables.append(
            f"<h3>{_e(operation)}</h3><table><thead><tr><th>candidate</th><th>size</th>"
            f"<th>speed-up [95% interval]</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    body = f"""<p class="note">Speed-up of each candidate over the frozen original against the operation's size, from
the latest bench run, with the 95% interval of each ratio. A candidate whose answers differ from the original's says so:
its speed-up is not one of the same answers.</p>
{left_out}
<div class="chart">{div}</div>
<details open><summary>The charts' data</summary>{"".join(tables)}</details>
"""
    return _page("Scaling", body, depth=0, commit_url=commit_url, head=script)


def commits_script(site: Site) -> str:
    rows = [[c.sha, c.subject[:100], c.date] for c in site.commits]
    return "window.SITE_COMMITS = " + json.dumps(rows, separators=(",", ":"), ensure_ascii=True) + ";\n"
