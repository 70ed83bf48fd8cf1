"""The report's figures (matplotlib, Agg): scaling curves, speedups with their intervals, peak memory.

Each function takes figures already computed by bench.report.build and writes one PNG; nothing here reads results.
Sizes are set for GitHub's page width (about 900 px): 10 x 5.5 inches at 100 dpi, 12-point text.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from bench.errors import ToolMissing
from bench.model.results import write_atomically
from bench.model.stats import RatioInterval

DPI: Final = 100
WIDTH_IN: Final = 10.0
_KNOWN_COLOURS: Final = {"baseline": "#555555", "optimized": "#0072B2", "proposed": "#D55E00"}
_MORE_COLOURS: Final = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9")  # Okabe-Ito: told apart by colour-blind readers
_STYLE: Final[dict[Any, Any]] = {
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.labelsize": 12,
    "legend.fontsize": 11,
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


@dataclass(frozen=True)
class Curve:
    """One candidate's median time per call at each size of one operation, and its fitted scaling exponent."""

    operation: str
    candidate: str
    sizes: tuple[int, ...]
    seconds: tuple[float, ...]
    lowest: tuple[float, ...]  # the fastest and slowest worker process's median: the spread behind each point
    highest: tuple[float, ...]
    exponent: float | None


@dataclass(frozen=True)
class Speedup:
    case: str
    candidate: str
    interval: RatioInterval


@dataclass(frozen=True)
class Memory:
    case: str
    candidate: str
    peak_bytes: int


@contextlib.contextmanager
def _drawing() -> Iterator[tuple[Any, Any]]:
    """(pyplot, FuncFormatter) in the report's style. matplotlib is the `plots` extra, imported only when a figure
    is drawn: a command that draws none needs it not, and one that does says what to install."""
    try:
        import matplotlib
    except ModuleNotFoundError as e:
        raise ToolMissing("the report's figures need matplotlib: pip install 'metrics-store-bench[plots]'") from e
    matplotlib.use("Agg")  # files only: no display, the same pixels on every machine
    import matplotlib.pyplot
    import matplotlib.ticker

    with matplotlib.pyplot.rc_context(_STYLE):
        yield matplotlib.pyplot, matplotlib.ticker.FuncFormatter


def colour(candidate: str, order: Sequence[str]) -> str:
    """The same colour for a candidate in every figure."""
    if candidate in _KNOWN_COLOURS:
        return _KNOWN_COLOURS[candidate]
    others = [name for name in order if name not in _KNOWN_COLOURS]
    return _MORE_COLOURS[others.index(candidate) % len(_MORE_COLOURS)] if candidate in others else "#000000"


def _milliseconds(value: float, _position: float) -> str:
    return f"{value:g}"


def _times_x(value: float, _position: float) -> str:
    return f"{value:,.0f}x" if value >= 100 else f"{value:.3g}x"


def _spread_apart(positions: list[float], gap: float) -> list[float]:
    """Label heights (axes fractions) moved apart, in order, so that neighbours are at least `gap` apart."""
    order = sorted(range(len(positions)), key=positions.__getitem__)
    placed = list(positions)
    for before, after in itertools.pairwise(order):
        placed[after] = max(placed[after], placed[before] + gap)
    return placed


def _label_line_ends(ax: Any, ends: Sequence[tuple[float, float, str, str]]) -> None:
    """Writes each text just right of its line's last point; texts that would collide are moved apart."""
    ax.autoscale_view()
    to_axes = ax.transAxes.inverted()
    points = [to_axes.transform(ax.transData.transform((x, y))) for x, y, _, _ in ends]
    heights = _spread_apart([float(p[1]) for p in points], gap=0.06)
    for (x, y, text, color), point, height in zip(ends, points, heights, strict=True):
        ax.annotate(
            text,
            (x, y),
            xytext=(float(point[0]) + 0.02, height),
            textcoords="axes fraction",
            va="center",
            fontsize=11,
            color=color,
        )


def plot_scaling(curves: Sequence[Curve], size_units: dict[str, str], candidates: Sequence[str], path: Path) -> None:
    """Time against size, log-log, one panel per operation, each line labelled with its fitted exponent."""
    operations = list(dict.fromkeys(curve.operation for curve in curves))
    with _drawing() as (pyplot, formatter):
        fig, axes = pyplot.subplots(1, len(operations), figsize=(WIDTH_IN, 5.5), squeeze=False, layout="constrained")
        for ax, operation in zip(axes[0], operations, strict=True):
            ends = []
            for curve in (c for c in curves if c.operation == operation):
                ms = [s * 1e3 for s in curve.seconds]
                below = [(s - lo) * 1e3 for s, lo in zip(curve.seconds, curve.lowest, strict=True)]
                above = [(hi - s) * 1e3 for s, hi in zip(curve.seconds, curve.highest, strict=True)]
                tint = colour(curve.candidate, candidates)
                slope = "" if curve.exponent is None else f"slope {curve.exponent:.2f}"
                ax.errorbar(
                    curve.sizes, ms, yerr=[below, above], marker="o", capsize=3, color=tint, label=curve.candidate
                )
                if slope:
                    ends.append((curve.sizes[-1], ms[-1], slope, tint))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(formatter(_milliseconds))
            ax.xaxis.set_major_formatter(formatter(lambda v, _p: f"{v:,.0f}"))
            ax.margins(x=0.3)
            ax.set_title(operation)
            ax.set_xlabel(f"size ({size_units.get(operation, 'items')}, log scale)")
            ax.set_ylabel("median time per call (ms, log scale)")
            ax.legend(loc="upper left")
            _label_line_ends(ax, ends)
        fig.suptitle("Time against size, log-log; slope = fitted scaling exponent; bars: fastest to slowest process")
        write_atomically(path, lambda temporary: fig.savefig(temporary, format=path.suffix[1:]))
        pyplot.close(fig)


def plot_speedups(speedups: Sequence[Speedup], candidates: Sequence[str], path: Path) -> None:
    """Speedup over the baseline per case, a marker per candidate with its 95% interval, a line at 1."""
    cases = list(dict.fromkeys(s.case for s in speedups))
    shown = [c for c in candidates if any(s.candidate == c for s in speedups)]
    step = 0.8 / max(len(shown), 1)
    with _drawing() as (pyplot, formatter):
        fig, ax = pyplot.subplots(figsize=(WIDTH_IN, 0.55 * len(cases) + 2.0), layout="constrained")
        for index, candidate in enumerate(shown):
            mine = {s.case: s.interval for s in speedups if s.candidate == candidate}
            rows = [i for i, case in enumerate(cases) if case in mine]
            estimates = [mine[cases[i]].estimate for i in rows]
            lows = [mine[cases[i]].estimate - mine[cases[i]].low for i in rows]
            highs = [mine[cases[i]].high - mine[cases[i]].estimate for i in rows]
            ys = [i + (index - (len(shown) - 1) / 2) * step for i in rows]
            ax.errorbar(
                estimates,
                ys,
                xerr=[lows, highs],
                fmt="o",
                capsize=4,
                color=colour(candidate, candidates),
                label=candidate,
            )
            for x, y, high in zip(estimates, ys, highs, strict=True):
                ax.annotate(
                    _times_x(x, 0), (x + high, y), xytext=(5, 0), textcoords="offset points", va="center", fontsize=10
                )
        ax.axvline(1.0, color="black", linewidth=1.2, linestyle="--", label="baseline (1x)")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(formatter(_times_x))
        ax.set_yticks(range(len(cases)), cases)
        ax.set_ylim(len(cases) - 0.5, -0.5)
        ax.set_xlabel("speedup = baseline time / candidate time (log scale; right of the dashed line is faster)")
        ax.margins(x=0.12)
        ax.set_title("Speedup over the baseline (median of paired processes, 95% interval)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=len(shown) + 1, frameon=False)
        write_atomically(path, lambda temporary: fig.savefig(temporary, format=path.suffix[1:]))
        pyplot.close(fig)


def _kib_text(peak_bytes: int) -> str:
    return f"{peak_bytes / 1024:,.0f} KiB" if peak_bytes >= 10 * 1024 else f"{peak_bytes / 1024:.2g} KiB"


def plot_memory(memory: Sequence[Memory], candidates: Sequence[str], path: Path) -> None:
    """Peak memory of one call per case, a bar per candidate, log scale; a peak of 0 bytes is written, not drawn."""
    cases = list(dict.fromkeys(m.case for m in memory))
    shown = [c for c in candidates if any(m.candidate == c for m in memory)]
    step = 0.8 / max(len(shown), 1)
    positive = [m.peak_bytes / 1024 for m in memory if m.peak_bytes > 0]
    left = min(positive, default=1.0) / 3
    with _drawing() as (pyplot, formatter):
        fig, ax = pyplot.subplots(figsize=(WIDTH_IN, 0.75 * len(cases) + 2.0), layout="constrained")
        for index, candidate in enumerate(shown):
            mine = {m.case: m.peak_bytes for m in memory if m.candidate == candidate}
            rows = [i for i, case in enumerate(cases) if case in mine]
            ys = [i + (index - (len(shown) - 1) / 2) * step for i in rows]
            peaks = [mine[cases[i]] for i in rows]
            tint = colour(candidate, candidates)
            ax.barh(ys, [max(p / 1024, left) for p in peaks], height=step * 0.9, color=tint, label=candidate)
            for y, peak in zip(ys, peaks, strict=True):
                ax.annotate(
                    _kib_text(peak) if peak else "0 bytes",
                    (max(peak / 1024, left), y),
                    xytext=(4, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=9,
                )
        ax.set_xscale("log")
        ax.set_xlim(left=left)
        ax.margins(x=0.15)
        ax.xaxis.set_major_formatter(formatter(lambda v, _p: f"{v:,g}"))
        ax.set_yticks(range(len(cases)), cases)
        ax.set_ylim(len(cases) - 0.5, -0.5)
        ax.set_xlabel("peak memory allocated by one call (KiB, tracemalloc, log scale)")
        ax.set_title("Peak memory of one call")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=len(shown), frameon=False)
        write_atomically(path, lambda temporary: fig.savefig(temporary, format=path.suffix[1:]))
        pyplot.close(fig)


@dataclass(frozen=True)
class HistoryPanel:
    """One benchmark's history: a ratio to the baseline per commit (oldest first), and where it changed."""

    benchmark: str
    commits: tuple[str, ...]  # short shas, the x-axis labels
    estimates: tuple[float, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    machines: tuple[str, ...]  # one machine id per point ("2 machines" where several measured it)
    change_points: tuple[int, ...]  # index of the first commit of each new level


_MACHINE_MARKERS: Final = ("o", "s", "^", "D", "v", "P", "X")


def plot_history(panels: Sequence[HistoryPanel], path: Path) -> None:
    """One panel per benchmark: store time / baseline time per commit with its 95% interval, change points dashed."""
    machines = list(dict.fromkeys(m for panel in panels for m in panel.machines))
    with _drawing() as (pyplot, _):
        fig, axes = pyplot.subplots(
            len(panels), 1, figsize=(WIDTH_IN, 2.6 * len(panels) + 1.2), layout="constrained", squeeze=False
        )
        for ax, panel in zip(axes[:, 0], panels, strict=True):
            xs = list(range(len(panel.commits)))
            for machine in machines:
                mine = [i for i in xs if panel.machines[i] == machine]
                if not mine:
                    continue
                ax.errorbar(
                    mine,
                    [panel.estimates[i] for i in mine],
                    yerr=[
                        [panel.estimates[i] - panel.lows[i] for i in mine],
                        [panel.highs[i] - panel.estimates[i] for i in mine],
                    ],
                    fmt=_MACHINE_MARKERS[machines.index(machine) % len(_MACHINE_MARKERS)],
                    capsize=3,
                    color=_MORE_COLOURS[machines.index(machine) % len(_MORE_COLOURS)],
                    label=f"machine {machine}",
                )
            for index in panel.change_points:
                ax.axvline(index - 0.5, color="#D55E00", linestyle="--", linewidth=1.5)
            ax.set_title(f"{panel.benchmark}: store time / baseline time (lower is faster)")
            ax.set_yscale("log")
            ax.set_xticks(xs, panel.commits, rotation=60, fontsize=9)
            ax.set_xlim(-0.5, len(xs) - 0.5)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        handles.append(pyplot.Line2D([], [], color="#D55E00", linestyle="--"))
        labels.append("change point (E-Divisive)")
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels), frameon=False)
        write_atomically(path, lambda temporary: fig.savefig(temporary, format=path.suffix[1:]))
        pyplot.close(fig)
