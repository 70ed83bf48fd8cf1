"""The gate's result where people and machines read it: a table on a terminal (rich), the same aligned in a log,
Markdown for a pull request and JSON for machines. The last line printed is the headline; --verbose adds every
verdict's long form above the table."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bench.errors import ExitCode
from bench.gate.counts import markdown_table
from bench.gate.outcome import Outcome
from bench.gate.result import GateResult
from bench.gate.why import Why
from bench.model.operations import find_case
from bench.report.publish import Row, Summary, publish
from bench.rule import shown

WIDTH = 120  # a line of the plain output is cut to this
INFORMATIONAL_NOTE = "timed once ("  # the note the answers section already says, on the terminal
WHY_LINES = 3  # of each failing operation's diff on the terminal: its head and first cause; --verbose: all of it


def _cut(text: str, width: int = WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _ratio(outcome: Outcome) -> str:
    i = outcome.interval
    return "-" if i is None else f"{i.estimate:.4f} [{i.low:.4f}, {i.high:.4f}]"


def _catches(outcome: Outcome) -> str:
    caught = outcome.detectable
    return "-" if caught is None else f"+{caught:.1%}"


def table_rows(result: GateResult) -> list[tuple[str, str, str, str, str]]:
    """benchmark, verdict, ratio [interval], the smallest slowdown it catches, processes: a row per benchmark."""
    return [
        (o.name, o.verdict.value if not o.fails else o.verdict.shown, _ratio(o), _catches(o), str(o.processes))
        for o in result.outcomes
    ]


def answer_sections(result: GateResult) -> list[tuple[str, list[str], str]]:
    """(method, the benchmarks it covers, its first counterexample) for each method whose answers differ."""
    if result.answers is None:
        return []
    why = result.answers.working.why
    covered: dict[str, list[str]] = {method: [] for method in result.answers.differs_in}
    for outcome in result.outcomes:
        method = find_case(outcome.name)[0].store_method
        if method in covered:
            covered[method].append(outcome.name)
    return [(method, names, why.get(method, "")) for method, names in covered.items()]


def count_rows(result: GateResult) -> list[tuple[str, str, str, str, str]]:
    """benchmark, verdict, instructions per call, growth, the system calls that changed: only those."""
    if result.counted is None:
        return []
    return [
        (
            v.name,
            v.verdict.shown if v.fails else v.verdict.value,
            f"{v.pair.candidate.instructions:,.0f}",
            f"{v.pair.growth:+.3%}",
            ", ".join(change.text for change in v.syscalls) or ("-" if v.syscalls_counted else "not counted"),
        )
        for v in result.counted.verdicts
    ]


def _aligned(header: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return [_cut(line(header).rstrip()), *(_cut(line(row).rstrip()) for row in rows)]


def plain(result: GateResult, *, verbose: bool = False, seconds: bool = True) -> list[str]:
    """The gate's output as aligned text: what a log shows, and what the snapshot tests pin."""
    lines = list(result.detail) if verbose else []
    if result.answers is not None:
        lines.append(_cut(f"answers: {result.answers.summary()}"))
    lines += _aligned(
        ("benchmark", "verdict", "ratio [interval]", "catches", "processes"), table_rows(result), right=(3, 4)
    )
    sections = answer_sections(result)
    if sections:
        lines.append("answers differ: these benchmarks fail; timed once, for information, and not counted")
        for method, names, why in sections:
            lines.append(_cut(f"  {method}: {', '.join(names) or 'no benchmark times it'}"))
            lines.append(_cut(f"    {why}"))
    if result.counted is not None:
        config = result.counted.config
        lines.append(
            _cut(
                f"counts per call against {result.counted.reference}: instructions fail above "
                f"+{config.instruction_tolerance:.1%}, a system call on any increase"
            )
        )
        header = ("benchmark", "verdict", "instructions", "growth", "system calls changed")
        lines += _aligned(header, count_rows(result), (2, 3))
    reference = result.context.get("against", {}).get("commit", "")[:12] or "the reference"
    for diff, others in grouped_whys(result.whys) if not verbose else [(d, []) for d in result.whys]:
        diff_lines = diff.lines(reference)
        alike = [o.benchmark for o in others if o.method_key == diff.method_key]
        unlike = [o.benchmark for o in others if o.method_key != diff.method_key]
        diff_lines[0] = diff.head(
            [
                name if name.partition("[")[0] != diff.benchmark.partition("[")[0] else "[" + name.partition("[")[2]
                for name in alike
            ],
            unlike,
        )
        lines += [_cut(line) for line in (diff_lines if verbose else diff_lines[:WHY_LINES])]
    lines += [_cut(note) for note in result.notes if not (sections and note.startswith(INFORMATIONAL_NOTE))]
    lines.append(result.headline + (f" in {result.seconds:.0f} s" if seconds else ""))  # whole: CI's last line
    return lines


def grouped_whys(whys: list[Why]) -> list[tuple[Why, list[Why]]]:
    """One diff per store method, and the others of it: the one shown is the one with system calls counted, else
    with calls that reach the disk, else the first; the rest are named beside it (--verbose shows each)."""
    groups: dict[str, list[Why]] = {}
    for diff in whys:
        groups.setdefault(find_case(diff.benchmark)[0].store_method, []).append(diff)
    shown = []
    for group in groups.values():
        first = next((d for d in group if d.syscalls), next((d for d in group if d.io_calls), group[0]))
        shown.append((first, [d for d in group if d is not first]))
    return shown


def _rich(result: GateResult, stream: TextIO, verbose: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, width=WIDTH)
    if verbose:
        for line in result.detail:
            console.print(line, markup=False, highlight=False)
    if result.answers is not None:
        console.print(f"answers: {result.answers.summary()}", markup=False, highlight=False)
    table = Table(box=None, pad_edge=False)
    for column, right in (("benchmark", False), ("verdict", False), ("ratio [interval]", False)):
        table.add_column(column, justify="right" if right else "left", no_wrap=True)
    table.add_column("catches", justify="right")
    table.add_column("processes", justify="right")
    for row, outcome in zip(table_rows(result), result.outcomes, strict=True):
        table.add_row(*row, style="bold red" if outcome.fails else None)
    console.print(table)
    rest = plain(result, seconds=True)[len(table_rows(result)) + 1 + (result.answers is not None) :]
    for line in rest[:-1]:
        console.print(line, markup=False, highlight=False)
    console.print(rest[-1], style="bold green" if result.passed else "bold red", markup=False, highlight=False)


def row_of(outcome: Outcome, result: GateResult) -> Row:
    """One benchmark's row of the published summary."""
    timings, band = outcome.timings, outcome.band
    note = []
    if band is not None:
        note.append(f"regression above {band.upper:.3f}" if result.kind == "against" else f"saved {band.ratio:.4f}")
    else:
        note.append("timed once for information" if outcome.informational else "no saved ratio")
    if timings is not None and timings.has("baseline") and result.kind == "against":
        versus = shown(timings.log_ratios("baseline"))
        note.append(f"vs baseline {versus.estimate:.4f} [{versus.low:.4f}, {versus.high:.4f}]")
    note.append(f"{outcome.processes} processes")
    return Row.of(
        outcome.name,
        result.context.get("compared", ""),
        outcome.interval,
        outcome.verdict.value,
        fails=outcome.fails,
        smallest_detectable=outcome.detectable,
        note="; ".join(note),
    )


def _answers_markdown(result: GateResult) -> str:
    """A collapsed section per method whose answers differ, its first counterexample shown once."""
    parts = []
    for method, names, why in answer_sections(result):
        covered = ", ".join(f"`{name}`" for name in names) or "no benchmark times it"
        parts += [
            f"<details><summary>answers differ in {method}: {covered}</summary>",
            "",
            f"    {why}",
            "",
            "</details>",
        ]
    return "\n".join(parts)


def summary_of(result: GateResult, *, verbose_text: list[str]) -> Summary:
    counted = result.counted
    sections = [s for s in (_answers_markdown(result),) if s]
    if counted is not None:
        sections.append(markdown_table(counted.verdicts, counted.reference, counted.config))
    reference = counted.reference if counted is not None else "the reference"
    for diff in result.whys:
        body_lines = diff.lines(reference)[1:]
        body = "\n".join(body_lines)
        first = body_lines[0].strip() if body_lines else "no function's calls changed"
        summary = f"<details><summary>why {diff.benchmark}: {first}</summary>"
        sections.append(f"{summary}\n\n```text\n{body}\n```\n\n</details>")
    return Summary(
        kind="gate",
        title="Perf gate",
        headline=result.headline,
        passed=result.passed,
        rows=[row_of(o, result) for o in result.outcomes],
        seconds=result.seconds,
        report="\n".join(verbose_text),
        details=result.to_json(),
        explanation=result.explanation,
        sections=sections,
    )


def show(
    result: GateResult,
    destinations: tuple[Path | None, Path | None],
    *,
    verbose: bool = False,
    stream: TextIO = sys.stdout,
) -> ExitCode:
    """Prints the result (a table on a terminal, aligned text in a log), publishes it where asked, and says whether
    it passed: 0, or 1."""
    if stream.isatty():
        _rich(result, stream, verbose)
    else:
        print("\n".join(plain(result, verbose=verbose)), file=stream)
    for path in publish(summary_of(result, verbose_text=plain(result, verbose=True)), *destinations):
        print(f"summary written to {path}", file=sys.stderr)
    return ExitCode.OK if result.passed else ExitCode.FAILED
