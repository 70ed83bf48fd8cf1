"""A history where people and machines read it: a row per commit with a mark per benchmark, then the change points,
the answer changes and the skipped commits, each said once; Markdown and JSON for machines. --verbose adds every
commit's ratios with their intervals and its answers in full."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final, TextIO

from bench.errors import ExitCode
from bench.history.changes import ChangePoint, history_table
from bench.history.points import Point, differs_in
from bench.history.walk import HistoryResult
from bench.report.publish import Row, Summary, publish

WIDTH: Final = 120
SHORT: Final = {
    "save_latency_stats": "save",
    "get_run_metrics_cold": "cold",
    "get_run_metrics_warm": "warm",
    "compare_runs": "compare",
    "get_recent_runs": "recent",
}


def short_name(benchmark: str) -> str:
    """save_latency_stats[1000] -> save 1k: a column header that fits."""
    operation, _, size = benchmark.partition("[")
    number = int(size.rstrip("]")) if size.rstrip("]").isdigit() else None
    shown = size.rstrip("]") if number is None else f"{number // 1000}k" if number >= 1000 else str(number)
    return f"{SHORT.get(operation, operation)} {shown}"


def _cut(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _mark(point: Point, name: str) -> str:
    if point.skipped is not None:
        return "skip"
    found = point.benchmarks.get(name)
    if found is None:
        return "-"
    ratio = found.estimate
    shown = f"{ratio:.1f}" if ratio >= 10 else f"{ratio:.3f}" if ratio >= 0.01 else f"{ratio:.4f}"
    return ("≠" if differs_in(point, name) else "") + shown


def commit_rows(result: HistoryResult) -> list[str]:
    """The header and a row per commit: short sha, subject cut to fit, a mark per benchmark."""
    cell = max(9, *(len(short_name(n)) + 1 for n in result.names))
    subject = max(16, min(40, WIDTH - 14 - cell * len(result.names)))
    header = f"{'commit':<12}  {'subject':<{subject}}" + "".join(f"{short_name(n):>{cell}}" for n in result.names)
    rows = [_cut(header)]
    for point in result.one_per_commit:
        title = _cut(point.subject, subject)
        marks = "".join(f"{_mark(point, name):>{cell}}" for name in result.names)
        rows.append(_cut(f"{point.commit[:12]}  {title:<{subject}}{marks}"))
    return rows


def _step_line(cp: ChangePoint) -> str:
    return f"  {cp.commit[:12]}  {short_name(cp.benchmark):<10} {cp.text()}  ({cp.subject})"


def plain(result: HistoryResult, *, verbose: bool = False) -> list[str]:
    lines = [
        _cut(
            f"history of {result.store}, oldest first: each commit's ratio to the frozen original "
            "(skip: cannot serve; ≠: answers differ there)"
        )
    ]
    if verbose:
        lines += history_table(result.points, result.names, None)
    else:
        lines += commit_rows(result)
    lines.append(f"change points ({len(result.change_points)}), each commit against the one before it:")
    lines += [_cut(_step_line(cp)) for cp in result.change_points]
    if verbose:
        lines.append(_cut(f"  {result.rule}", 10_000))
    lines.append(f"answer changes ({len(result.answer_changes)}), against the frozen original:")
    for change in result.answer_changes:
        lines.append(_cut(f"  {change.commit[:12]}  {change.subject}"))
        lines.append(_cut(f"    {_answers_change(change.before, change.after)}", WIDTH if not verbose else 10_000))
    skipped = [p for p in result.one_per_commit if p.skipped is not None]
    if skipped:
        lines.append(f"skipped ({len(skipped)}), their stores cannot serve:")
        width = WIDTH if not verbose else 10_000
        reasons = [(p.commit, p.skipped or "") for p in skipped]
        lines += [_cut(f"  {sha[:12]}  {reason.partition(': ')[2] or reason}", width) for sha, reason in reasons]
    lines.append(result.headline)
    return lines


def _answers_change(before: str, after: str) -> str:
    """What changed, said once: the parts of the answers that differ between the two states."""
    old, new = before.split("; "), after.split("; ")
    kept = [part for part in new if part in old]
    changed = [part for part in new if part not in old]
    return " ; ".join(changed) + (f" (was: {'; '.join(p for p in old if p not in new)})" if kept != new else "")


def summary_of(result: HistoryResult) -> Summary:
    return Summary(
        kind="history",
        title="Store history",
        headline=result.headline,
        passed=True,
        rows=[_row(cp) for cp in result.change_points],
        report="\n".join(plain(result, verbose=True)),
        details=result.to_json(),
    )


def _row(cp: ChangePoint) -> Row:
    before = f"{cp.level_before:.4f}" if cp.level_before is not None else "?"
    return Row.of(
        cp.benchmark,
        f"{cp.commit[:12]} / {cp.previous_commit[:12]}, same processes",
        cp.step,
        "answers differ" if cp.answers_differ else "slower from here" if cp.slower else "faster from here",
        note=f"{cp.subject[:60]}; ratio to baseline {before} -> {cp.level_after:.4f}",
    )


def show(
    result: HistoryResult,
    destinations: tuple[Path | None, Path | None],
    *,
    verbose: bool = False,
    stream: TextIO = sys.stdout,
) -> ExitCode:
    print("\n".join(plain(result, verbose=verbose)), file=stream)
    for path in publish(summary_of(result), *destinations):
        print(f"summary written to {path}", file=sys.stderr)
    return ExitCode.OK
