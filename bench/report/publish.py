"""Verdicts where people read them: one summary per command, as Markdown and as versioned JSON.

The gate, the main job and the history each build a `Summary`; this module alone renders it. The
Markdown is written for a pull-request comment or a CI job page (`--markdown PATH`, and appended to
$GITHUB_STEP_SUMMARY when that is set); the JSON (`--json PATH`) follows schemas/summary.v1.schema.json,
which tests validate real output against. A change to the JSON's shape is a new SCHEMA_VERSION.
"""

from __future__ import annotations

import math
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from bench.model.results import REPO_ROOT, write_json_atomically, write_text_atomically
from bench.model.stats import RatioInterval

SCHEMA_VERSION: Final = 1
SCHEMA: Final = REPO_ROOT / "schemas" / f"summary.v{SCHEMA_VERSION}.schema.json"
STEP_SUMMARY_VARIABLE: Final = "GITHUB_STEP_SUMMARY"
Kind = Literal["gate", "bench", "history"]
# What the title says, by kind and by `passed`: a history has no verdict of its own.
MARKS: Final = {
    "gate": {True: "PASSED", False: "FAILED"},
    "bench": {True: "every target met", False: "targets missed"},
    "history": {True: "", False: ""},
}


@dataclass(frozen=True)
class Row:
    """One benchmark's line: a ratio with its interval, what it means, and what it could have caught."""

    benchmark: str
    comparison: str  # what the ratio divides, e.g. "working tree / 3c7ce5204e0d" or "speed-up over baseline"
    estimate: float | None
    low: float | None
    high: float | None
    confidence: float | None
    verdict: str
    fails: bool = False
    smallest_detectable: float | None = None  # the smallest slowdown this run could have caught, as a fraction
    note: str = ""

    @classmethod
    def of(cls, benchmark: str, comparison: str, interval: RatioInterval | None, verdict: str, **rest: Any) -> Row:
        """A row whose ratio is `interval` (none: not measured), so a ratio never comes without it."""
        if interval is None:
            return cls(benchmark, comparison, None, None, None, None, verdict, **rest)
        bounds = (interval.estimate, interval.low, interval.high, interval.confidence)
        return cls(benchmark, comparison, *bounds, verdict, **rest)


@dataclass
class Summary:
    kind: Kind
    title: str
    headline: str  # the one line with the verdict
    passed: bool
    rows: list[Row]
    seconds: float | None = None
    report: str = ""  # the full text output, folded under the table
    link: str | None = None  # where the full report is, if it is a file
    details: dict[str, Any] = field(default_factory=dict)  # kind-specific, JSON only
    explanation: str = ""  # how to read the table (the decision rule), under it
    sections: list[str] = field(default_factory=list)  # more Markdown under the table (the gate's counts)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def as_json(summary: Summary) -> dict[str, Any]:
    return json_safe(
        {
            "schema_version": SCHEMA_VERSION,
            "kind": summary.kind,
            "title": summary.title,
            "headline": summary.headline,
            "passed": summary.passed,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": {"python": platform.python_version(), "processor": platform.processor() or platform.machine()},
            "seconds": summary.seconds,
            "rows": [asdict(row) for row in summary.rows],
            "details": summary.details,
        }
    )


def _number(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.4g}"


def ratio_cell(row: Row) -> str:
    if row.estimate is None:
        return "-"
    if row.low is None or row.high is None:
        return f"{_number(row.estimate)} (no interval)"
    return f"{_number(row.estimate)} [{_number(row.low)}, {_number(row.high)}]"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(summary: Summary) -> str:
    """GitHub-flavoured Markdown: the verdict line, the table with failures first, the full text folded."""
    mark = MARKS[summary.kind][summary.passed]
    levels = sorted({row.confidence for row in summary.rows if row.confidence is not None})
    interval = " / ".join(f"{c * 100:.4g}%" for c in levels)
    lines = [f"### {summary.title}" + (f": {mark}" if mark else ""), "", f"**{_escape(summary.headline)}**", ""]
    detects = any(row.smallest_detectable is not None for row in summary.rows)
    if summary.rows:
        lines += [
            f"| benchmark | compared | ratio [{interval or '-'} interval] | verdict |"
            + (" smallest slowdown it could catch |" if detects else "")
            + " note |",
            "| --- | --- | ---: | --- |" + (" ---: |" if detects else "") + " --- |",
        ]
        for row in failed_first(summary.rows):
            detectable = _finite(row.smallest_detectable)
            caught = f" {'-' if detectable is None else f'+{detectable:.1%}'} |" if detects else ""
            lines.append(
                f"| `{row.benchmark}` | {_escape(row.comparison)} | {ratio_cell(row)} | "
                f"{'**' + row.verdict + '**' if row.fails else row.verdict} |{caught} {_escape(row.note)} |"
            )
        lines.append("")
    if summary.explanation:
        lines += [_escape(summary.explanation), ""]
    for section in summary.sections:
        lines += [section, ""]
    if summary.seconds is not None:
        lines += [f"Took {summary.seconds:.0f} s.", ""]
    if summary.link:
        lines += [f"Full report: [{summary.link}]({summary.link})", ""]
    if summary.report:
        body = summary.report.replace("```", "'''")
        lines += ["<details><summary>Full output</summary>", "", "```text", body.rstrip(), "```", "", "</details>", ""]
    return "\n".join(lines)


def publish(summary: Summary, markdown_path: Path | None, json_path: Path | None) -> list[Path]:
    """Writes what was asked for; the Markdown also goes to $GITHUB_STEP_SUMMARY when that is set."""
    written = []
    text = markdown(summary)
    if markdown_path is not None:
        write_text_atomically(markdown_path, text + "\n")
        written.append(markdown_path)
    step_summary = os.environ.get(STEP_SUMMARY_VARIABLE)
    if step_summary:
        with open(step_summary, "a", encoding="utf-8") as f:
            f.write(text + "\n")
        written.append(Path(step_summary))
    if json_path is not None:
        write_json_atomically(json_path, as_json(summary), allow_nan=False)
        written.append(json_path)
    return written


def failed_first(rows: Sequence[Row]) -> list[Row]:
    """Failures first, each group in the order given (a stable sort)."""
    return sorted(rows, key=lambda r: not r.fails)


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: such a float (an interval that could catch nothing) becomes null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    return value
