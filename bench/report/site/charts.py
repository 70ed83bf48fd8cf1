"""The charts, drawn by Bokeh: a benchmark's history per machine, and the speed-up against size."""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from typing import Any, Final

from bench.errors import UsageError
from bench.history.changes import ChangePoint
from bench.history.points import Point, differs_in
from bench.model.stats import RatioInterval
from bench.report.site.data import Site

PALETTE: Final = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")
DIFFER_COLOR: Final = "#b42318"
SKIPPED_COLOR: Final = "#6e7781"
INSTALL_HINT: Final = "the dashboard needs Bokeh: pip install 'metrics-store-bench[site]'"


def bokeh() -> Any:
    try:
        return importlib.import_module("bokeh")
    except ImportError as e:
        raise UsageError(INSTALL_HINT) from e


def _series_by_machine(site: Site, benchmark: str, machine: str) -> list[Point]:
    return [p for p in site.points if p.machine_id == machine and (p.skipped is not None or benchmark in p.benchmarks)]


def measured_stretches(values: list[float]) -> list[tuple[int, int]]:
    """[start, stop) of each run of values that are not NaN."""
    stretches, start = [], None
    for i, value in enumerate([*values, math.nan]):
        if not math.isnan(value) and start is None:
            start = i
        elif math.isnan(value) and start is not None:
            stretches.append((start, i))
            start = None
    return stretches


def benchmark_chart(site: Site, benchmark: str) -> tuple[str, str, int]:
    """(script, div, points drawn) of a benchmark's chart: per machine its ratios, band and answers-differ marks;
    the commits that could not serve as gaps with a mark below; the change points as the level's steps."""
    bokeh()
    import numpy
    from bokeh.embed import components
    from bokeh.models import (
        CDSView,
        ColumnDataSource,
        CustomJS,
        CustomJSHover,
        CustomJSTickFormatter,
        HoverTool,
        IndexFilter,
        TapTool,
    )
    from bokeh.models.annotations import Band, Span
    from bokeh.plotting import figure

    plot = figure(
        height=420,
        sizing_mode="stretch_width",
        y_axis_type="log",
        x_axis_label="commit (first-parent order)",
        y_axis_label="time / the frozen original's (lower is faster)",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        name=f"chart:{benchmark}",
    )
    plot.xaxis.formatter = CustomJSTickFormatter(
        code="const c = (window.SITE_COMMITS || [])[Math.round(tick)]; return c ? c[0].slice(0, 7) : '';"
    )
    commit = CustomJSHover(code="return siteCommit(value);")
    drawn = 0
    lowest = math.inf
    skipped: dict[str, list[Any]] = {"x": [], "machine": [], "reason": []}
    for index, machine in enumerate(site.machines):
        color = PALETTE[index % len(PALETTE)]
        rows = _series_by_machine(site, benchmark, machine)
        if not rows:
            continue
        x, ratio, low, high, differ = [], [], [], [], []
        for p in rows:
            x.append(site.position[p.commit])
            if p.skipped is None:
                found = p.benchmarks[benchmark]
                ratio.append(found.estimate)
                low.append(found.low)
                high.append(found.high)
                differ.append(1 if differs_in(p, benchmark) else 0)
                lowest = min(lowest, found.low)
            else:  # a gap in the line and the band
                ratio.append(math.nan)
                low.append(math.nan)
                high.append(math.nan)
                differ.append(0)
                skipped["x"].append(site.position[p.commit])
                skipped["machine"].append(machine)
                skipped["reason"].append(p.skipped)
        source = ColumnDataSource(
            {
                "x": numpy.array(x, dtype=numpy.int32),
                "ratio": numpy.array(ratio, dtype=numpy.float32),
                "low": numpy.array(low, dtype=numpy.float32),
                "high": numpy.array(high, dtype=numpy.float32),
                "differ": numpy.array(differ, dtype=numpy.int8),
            },
            name=f"source:{machine}",
            tags=[machine],
        )
        # A band per stretch of measured commits: bokeh's Band draws straight across a NaN, so a skipped stretch
        # would look measured; the line itself breaks at a NaN.
        for start, stop in measured_stretches(low):
            stretch = ColumnDataSource(
                {"x": numpy.array(x[start:stop], dtype=numpy.int32), "low": low[start:stop], "high": high[start:stop]}
            )
            plot.add_layout(
                Band(base="x", lower="low", upper="high", source=stretch, fill_color=color, fill_alpha=0.15)
            )
        plot.line("x", "ratio", source=source, color=color, line_width=1.5, legend_label=f"machine {machine}")
        valid = [i for i, p in enumerate(rows) if p.skipped is None]
        differing = [i for i in valid if differ[i]]
        marks = plot.scatter(
            "x",
            "ratio",
            source=source,
            view=CDSView(filter=IndexFilter(indices=valid)),
            size=6,
            color=color,
            name=f"points:{machine}",
        )
        if differing:
            plot.scatter(
                "x",
                "ratio",
                source=source,
                view=CDSView(filter=IndexFilter(indices=differing)),
                size=11,
                marker="x",
                line_width=2.5,
                color=DIFFER_COLOR,
                name=f"differ:{machine}",
                legend_label="answers differ",
            )
        drawn += len(valid)
        plot.add_tools(
            HoverTool(
                renderers=[marks],
                tooltips=[
                    ("commit", "@x{commit}"),
                    ("machine", machine),
                    ("ratio", "@ratio{0.0000} [@low{0.0000}, @high{0.0000}]"),
                ],
                formatters={"@x": commit},
                callback=CustomJS(args={"source": source}, code="siteHover(source, 'point', cb_data);"),
            )
        )
        source.selected.js_on_change(
            "indices",
            CustomJS(
                args={"source": source},
                code="if (source.selected.indices.length) siteShow(source, source.selected.indices[0], 'point');",
            ),
        )
        plot.add_tools(TapTool(renderers=[marks]))
    if skipped["x"]:
        floor = (lowest if math.isfinite(lowest) else 1.0) * 0.8
        gaps = ColumnDataSource({**skipped, "y": [floor] * len(skipped["x"])}, name="source:skipped")
        marks = plot.scatter(
            "x",
            "y",
            source=gaps,
            marker="triangle",
            size=9,
            color=SKIPPED_COLOR,
            name="skipped",
            legend_label="could not be measured",
        )
        drawn += len(skipped["x"])
        plot.add_tools(
            HoverTool(
                renderers=[marks],
                tooltips=[("commit", "@x{commit}"), ("machine", "@machine"), ("skipped", "@reason")],
                formatters={"@x": commit},
                callback=CustomJS(args={"source": gaps}, code="siteHover(source, 'skipped', cb_data);"),
            )
        )
    steps = [cp for cp in site.change_points if cp.benchmark == benchmark]
    if steps:
        change = ColumnDataSource(
            {
                "x": [site.position[cp.commit] for cp in steps],
                "y": [cp.level_after for cp in steps],
                "step": [cp.text() for cp in steps],
            },
            name="source:change",
        )
        levels_x, levels_y = _levels(site, steps)
        plot.step(
            levels_x,
            levels_y,
            mode="after",
            color="#1b1f24",
            line_dash="dashed",
            line_width=2,
            legend_label="level (median of machines)",
            name="levels",
        )
        for cp in steps:
            plot.add_layout(
                Span(
                    location=site.position[cp.commit],
                    dimension="height",
                    line_color="#1b1f24",
                    line_alpha=0.4,
                    line_dash="dotted",
                )
            )
        marks = plot.scatter(
            "x",
            "y",
            source=change,
            marker="diamond",
            size=14,
            color="#1b1f24",
            name="change",
            legend_label="change point",
        )
        plot.add_tools(
            HoverTool(
                renderers=[marks],
                tooltips=[("commit", "@x{commit}"), ("step", "@step")],
                formatters={"@x": commit},
                callback=CustomJS(args={"source": change}, code="siteHover(source, 'change', cb_data);"),
            )
        )
    plot.legend.location = "top_left"
    plot.legend.click_policy = "hide"
    script, div = components(plot)
    return script, div, drawn


def _levels(site: Site, steps: Sequence[ChangePoint]) -> tuple[list[int], list[float]]:
    """The step line of the level between change points: level_before up to the first, each level_after onward."""
    ordered = sorted(steps, key=lambda cp: site.position[cp.commit])
    first = ordered[0]
    xs, ys = [0], [first.level_before if first.level_before is not None else first.level_after]
    for cp in ordered:
        xs.append(site.position[cp.commit])
        ys.append(cp.level_after)
    xs.append(len(site.commits) - 1)
    ys.append(ordered[-1].level_after)
    return xs, ys


def scaling_figures(curves: dict[str, dict[str, list[tuple[int, RatioInterval]]]]) -> tuple[str, str]:
    """(script, div): a figure per operation, a line per candidate with each ratio's interval as a whisker."""
    bokeh()
    from bokeh.embed import components
    from bokeh.layouts import column
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.models.annotations import Whisker
    from bokeh.plotting import figure

    figures = []
    for operation, by_candidate in curves.items():
        plot = figure(
            height=300,
            sizing_mode="stretch_width",
            x_axis_type="log",
            title=operation,
            x_axis_label="size",
            y_axis_label="speed-up over the original",
            name=f"scaling:{operation}",
        )
        for index, (candidate, found) in enumerate(by_candidate.items()):
            source = ColumnDataSource(
                {
                    "size": [size for size, _ in found],
                    "speedup": [s.estimate for _, s in found],
                    "low": [s.low for _, s in found],
                    "high": [s.high for _, s in found],
                }
            )
            color = PALETTE[index % len(PALETTE)]
            plot.line("size", "speedup", source=source, color=color, legend_label=candidate)
            marks = plot.scatter("size", "speedup", source=source, color=color, size=7)
            plot.add_layout(Whisker(base="size", lower="low", upper="high", source=source, line_color=color))
            plot.add_tools(
                HoverTool(
                    renderers=[marks],
                    tooltips=[
                        ("candidate", candidate),
                        ("size", "@size"),
                        ("speed-up", "@speedup{0.00} [@low{0.00}, @high{0.00}]"),
                    ],
                )
            )
        plot.legend.location = "top_left"
        figures.append(plot)
    script, div = components(column(*figures, sizing_mode="stretch_width"))
    return script, div
