"""The gate's verdicts as people and machines read them: lines, table rows, and the published summary."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.errors import ExitCode
from bench.gate._decide import Outcome, cost_ratio, detectable_slowdown, has_baseline, ratio_text
from bench.gate.counts import CountVerdict
from bench.model.publish import Row, Summary, publish
from bench.stores.snapshot import Snapshot


def against_row(outcome: Outcome, reference: Snapshot) -> Row:
    interval, band = outcome.interval, outcome.band
    assert interval is not None and band is not None
    baseline = f"vs baseline {ratio_text(cost_ratio(outcome.timings))}; " if has_baseline(outcome.timings) else ""
    return Row.of(
        outcome.name,
        f"working tree / {reference.commit[:12]}",
        interval,
        outcome.verdict.value,
        fails=outcome.fails,
        smallest_detectable=detectable_slowdown(interval, band),
        note=f"regression above {band.upper:.3f}; {baseline}{outcome.processes} processes"
        + (f"; {outcome.note}" if outcome.note else ""),
    )


def saved_row(outcome: Outcome) -> Row:
    interval, band = outcome.interval, outcome.band
    return Row.of(
        outcome.name,
        "candidate / baseline",
        interval,
        outcome.verdict.value,
        fails=outcome.fails,
        smallest_detectable=detectable_slowdown(interval, band) if interval and band else None,
        note=(f"saved {band.ratio:.4f} +-{band.tolerance:.1%}" if band else "no saved ratio")
        + (f"; {outcome.note}" if outcome.note else ""),
    )


def finish(
    outcomes: list[Outcome],
    rows: list[Row],
    text: list[str],
    started: float,
    destinations: tuple[Path | None, Path | None],
    what: str,
    context: dict[str, Any],
    explanation: str = "",
    failed_answers: list[str] | None = None,
    counted: Counted | None = None,
) -> ExitCode:
    """Prints the verdicts and the tally, and publishes the summary to (Markdown, JSON) where asked.

    failed_answers: operations whose answers differ but that no benchmark times (the files a sequence of steps
    left, say): they fail the gate too. counted: the deterministic counts' verdicts, their lines and Markdown.
    """
    failed = [o for o in outcomes if o.fails]
    counts = counted.verdicts if counted is not None else []
    failed_counts = [v.name for v in counts if v.fails]
    elapsed = time.monotonic() - started
    if counted is not None:
        text += counted.lines
    tally = f"{len(failed)} failed, {len(outcomes) - len(failed)} passed"
    if counted is not None:
        tally += f"; counts: {len(failed_counts)} failed, {len(counts) - len(failed_counts)} passed"
    text.append(f"{tally} in {elapsed:.0f} s")
    if failed_answers:
        text.append(f"failed: answers differ in {', '.join(failed_answers)}, which no benchmark times")
    print("\n".join(text))
    headline = _headline(failed, outcomes, what)
    if failed_answers:
        headline += f"; answers differ in {', '.join(failed_answers)}"
    if failed_counts:
        headline += f"; counts grew in {', '.join(failed_counts)}"
    summary = Summary(
        kind="gate",
        title="Perf gate",
        headline=headline,
        passed=not failed and not failed_answers and not failed_counts,
        rows=rows,
        seconds=elapsed,
        report="\n".join(text),
        details={
            **context,
            "outcomes": [_as_json(o) for o in outcomes],
            "counts": [v.as_json() for v in counts] if counted is not None else None,
        },
        explanation=explanation,
        sections=[counted.markdown] if counted is not None else [],
    )
    for path in publish(summary, *destinations):
        print(f"summary written to {path}", file=sys.stderr)
    return ExitCode.FAILED if failed or failed_answers or failed_counts else ExitCode.OK


@dataclass(frozen=True)
class Counted:
    """The gate's deterministic counts, ready to print and publish beside the timed verdicts."""

    verdicts: list[CountVerdict]
    lines: list[str]
    markdown: str


def _headline(failed: list[Outcome], outcomes: list[Outcome], what: str) -> str:
    if not failed:
        return f"no regression in {len(outcomes)} benchmarks: {what}"
    names = ", ".join(o.name for o in failed)
    return f"{len(failed)} of {len(outcomes)} benchmarks {'fail' if len(failed) > 1 else 'fails'}: {names} ({what})"


def _as_json(outcome: Outcome) -> dict[str, Any]:
    document = asdict(outcome)
    document["verdict"] = outcome.verdict.value
    document["fails"] = outcome.fails
    if outcome.interval is not None and not math.isfinite(outcome.interval.estimate):
        document["interval"] = None
    if outcome.interval is not None and outcome.band is not None:
        document["detectable_slowdown"] = detectable_slowdown(outcome.interval, outcome.band)
    return document
