"""The gate's verdicts as people and machines read them: lines, table rows, and the published summary."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import ExitCode
from bench.gate.counts import CountVerdict
from bench.gate.outcome import Outcome
from bench.model.publish import Row, Summary, publish
from bench.rule import shown
from bench.stores.snapshot import Snapshot


def against_row(outcome: Outcome, reference: Snapshot) -> Row:
    interval, band, timings = outcome.interval, outcome.band, outcome.timings
    assert interval is not None
    baseline = ""
    if timings is not None and timings.has("baseline"):
        versus = shown(timings.log_ratios("baseline"))
        baseline = f"vs baseline {versus.estimate:.4f} [{versus.low:.4f}, {versus.high:.4f}]; "
    limit = f"regression above {band.upper:.3f}; " if band is not None else "timed once for information; "
    return Row.of(
        outcome.name,
        f"working tree / {reference.commit[:12]}",
        interval,
        outcome.verdict.value,
        fails=outcome.fails,
        smallest_detectable=outcome.detectable,
        note=f"{limit}{baseline}{outcome.processes} processes" + (f"; {outcome.note}" if outcome.note else ""),
    )


def saved_row(outcome: Outcome) -> Row:
    band = outcome.band
    return Row.of(
        outcome.name,
        "candidate / baseline",
        outcome.interval,
        outcome.verdict.value,
        fails=outcome.fails,
        smallest_detectable=outcome.detectable,
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
            "outcomes": [o.to_json() for o in outcomes],
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
