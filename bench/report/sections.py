"""The report's sections on answers and claims: the proposal's claims against what was measured, the deployed layout,
equivalence, divergences, the history across commits, and the closing lines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.history import changes
from bench.model.floors import REFERENCE
from bench.model.results import shown as shown_path
from bench.model.stats import RatioInterval
from bench.model.stats import verdict as target_verdict
from bench.report import claims
from bench.report.inputs import CLAIM_CANDIDATES, DIFFERING_MARK, EQUIVALENCE_FILE, MISSING_FIGURE, Inputs
from bench.stores.candidates import BASELINE
from bench.stores.deployment import DEPLOYED
from storage import optimized


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _times(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _interval_text(interval: RatioInterval) -> str:
    return f"{_times(interval.estimate)}x [{_times(interval.low)}, {_times(interval.high)}]"


def _speedups_of(inputs: Inputs, candidate: str, operation: str) -> dict[int, RatioInterval | None]:
    """The candidate's speedup interval at each size of an operation, from the table's rows."""
    found = {}
    for row in inputs.rows:
        if row.candidate == candidate and row.case.startswith(f"{operation}["):
            found[int(row.case[len(operation) + 1 : -1])] = row.speedup
    return found


def _equivalence_record(inputs: Inputs, candidate: str) -> dict[str, Any] | None:
    if inputs.equivalence is None:
        return None
    return next((r for r in inputs.equivalence.data["candidates"] if r["candidate"] == candidate), None)


def _failures(record: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [t for t in (record or {}).get("tests", ()) if t["outcome"] in ("failed", "error")]


def _differing_tests(inputs: Inputs, candidate: str, method: str) -> list[str]:
    """The equivalence properties that found the candidate answering otherwise than the baseline in `method`."""
    failed = _failures(_equivalence_record(inputs, candidate))
    return sorted({t["test"].split("[")[0] for t in failed if t.get("operation") == method})


def _outcomes(tests: Sequence[dict[str, Any]]) -> str:
    """ "16 passed, 1 failed, 4 skipped", in that order, zeros left out."""
    counts = Counter(test["outcome"] for test in tests)
    shown = [f"{counts[o]} {o}" for o in ("passed", "failed", "error", "skipped") if counts[o]]
    return ", ".join(shown) or "no tests"


def _where_different(failed: Sequence[dict[str, Any]]) -> str:
    """The methods whose answers differed, and how many failures were no Mismatch (an error in the test run)."""
    methods = sorted({t["operation"] for t in failed if t.get("operation")})
    others = sum(1 for t in failed if not t.get("operation"))
    if others:
        methods.append(f"{others} failure{'s' if others > 1 else ''} other than a Mismatch")
    return ", ".join(methods) or "-"


def _claim_note(inputs: Inputs, claim: claims.Claim, candidate: str) -> str:
    """The claim's own note, and whether the equivalence suite found this candidate's answers to differ."""
    notes = [claim.note] if claim.note else []
    if _equivalence_record(inputs, candidate) is None:
        notes.append("answers not checked (no equivalence verdict saved)")
    elif differing := _differing_tests(inputs, candidate, claim.method):
        notes.append(
            f"**answers differ from the baseline's** in {claim.method} ({', '.join(differing)}): "
            "a speed for another answer"
        )
    return "; ".join(notes)


@dataclass(frozen=True)
class JudgedClaim:
    claim: claims.Claim
    candidate: str
    measured: str
    verdict: claims.ClaimVerdict
    note: str


def judge_claims(inputs: Inputs) -> list[JudgedClaim]:
    """Each claim for each of proposed and optimized (those measured), judged by bench.report.claims' rule."""
    verdicts = []
    for claim in claims.CLAIMS:
        for candidate in (c for c in CLAIM_CANDIDATES if c in inputs.candidates):
            intervals = _speedups_of(inputs, candidate, claim.operation)
            measured = "; ".join(
                f"{size:,}: {_interval_text(found)} {claims.judge_size(found, claim)}"
                if (found := intervals.get(size)) is not None
                else f"{size:,}: not measured"
                for size in claim.sizes
            )
            verdicts.append(
                JudgedClaim(
                    claim, candidate, measured, claims.judge(intervals, claim), _claim_note(inputs, claim, candidate)
                )
            )
    return verdicts


def claims_section(verdicts: Sequence[JudgedClaim]) -> str:
    rows = [
        (
            v.claim.said,
            claims.claimed_range(v.claim),
            f"{v.claim.operation} at {', '.join(f'{s:,}' for s in v.claim.sizes)}",
            v.candidate,
            v.measured,
            f"**{v.verdict}**",
            v.note,
        )
        for v in verdicts
    ]
    headers = (
        "claim (the proposal's words)",
        "means a speedup of",
        "benchmark",
        "candidate",
        "measured speedup [95% CI] by size",
        "verdict",
        "note",
    )
    return "\n\n".join(
        [
            'Each percentage is read as the fall in time it states: "30-50% faster" is a speedup '
            '(baseline time / candidate time) of 1/(1-0.30) to 1/(1-0.50), "99% faster" is 100x. '
            + claims.VERDICT_RULES,
            _table(headers, rows),
        ]
    )


def mechanisms_section(inputs: Inputs) -> str:
    """The claims of how the proposal works, on each store's counted calls (exact: no interval)."""
    if inputs.mechanisms is None:
        return "*Not counted: the main job (`python -m bench`) writes mechanisms.json.*"
    stores = inputs.mechanisms.data["stores"]
    if BASELINE not in stores:
        return f"*Not judged: {shown_path(inputs.mechanisms.path)} holds no count of the baseline.*"
    rows = []
    for claim in claims.MECHANISM_CLAIMS:
        baseline = claims.mechanism_sum(stores[BASELINE].get(claim.benchmark, {}), claim)
        for candidate in (c for c in CLAIM_CANDIDATES if claim.benchmark in stores.get(c, {})):
            counted = stores[candidate][claim.benchmark]
            mine = claims.mechanism_sum(counted, claim)
            parts = ", ".join(f"{name} {counted.get(name, 0.0):g}" for name in claim.counted)
            verdict = claims.HOLDS if claim.holds(mine, baseline) else claims.FAILS
            rows.append(
                (
                    claim.said,
                    claim.benchmark,
                    candidate,
                    f"{mine:g} ({parts})",
                    f"{baseline:g}",
                    f"**{verdict}**",
                    claim.rule,
                )
            )
    headers = (
        "claim (the proposal's words)",
        "benchmark",
        "candidate",
        "per call (its parts)",
        "baseline's",
        "verdict",
        "rule",
    )
    return "\n\n".join(
        [
            "Counted by Python's profiler in one worker per store and benchmark "
            f"({shown_path(inputs.mechanisms.path)}): calls per call of the builtins that reach the system. "
            "Counts are exact, the same code and inputs make the same calls, so they carry no interval.",
            _table(headers, rows),
        ]
    )


def deployment_section(inputs: Inputs) -> str:
    """The optimized store in this repository beside the same file deployed as the application's storage.py."""
    if DEPLOYED not in inputs.candidates or "optimized" not in inputs.candidates:
        return (
            "*Not measured in this run: `python -m bench --deployed` times the optimized store as the application "
            "deploys it (`--rebaseline` always does).*"
        )
    by_case = {(row.case, row.candidate): row for row in inputs.rows}
    rows = []
    for case in dict.fromkeys(row.case for row in inputs.rows):
        here, there = by_case.get((case, "optimized")), by_case.get((case, DEPLOYED))
        if here is None or there is None or here.speedup is None or there.speedup is None:
            continue
        overlap = here.speedup.low <= there.speedup.high and there.speedup.low <= here.speedup.high
        target = "" if here.target is None else f">={here.target:g}x: {target_verdict(there.speedup, here.target)}"
        rows.append(
            (
                case,
                _interval_text(here.speedup),
                _interval_text(there.speedup),
                "agree (intervals overlap)" if overlap else "**differ**",
                target,
            )
        )
    return (
        "The same `storage/optimized.py`, measured in this repository (`optimized`) and copied unchanged as "
        "`astraguard/hil/metrics/storage.py` beside the application's `latency.py` (`deployed`, fed that "
        "package's own collector class), in the same run. Speedups over the baseline with 95% intervals.\n\n"
        + _table(("benchmark", "in this repository", "deployed", "agreement", "target (deployed)"), rows)
    )


def equivalence_section(inputs: Inputs) -> str:
    if inputs.equivalence is None:
        return (
            f"**No equivalence verdicts saved** ({shown_path(inputs.results_dir / EQUIVALENCE_FILE)} and "
            f"{shown_path(inputs.fallback / EQUIVALENCE_FILE)} are missing): run `nox -s equivalence` to record them."
        )
    doc = inputs.equivalence.data
    parts = [
        f"From `{shown_path(inputs.equivalence.path)}`: the Hypothesis differential suite ({', '.join(doc['suite'])}, "
        f"profile `{doc['hypothesis_profile']}`) run once per candidate against the baseline on {doc['date']} "
        f"at commit `{doc['commit']}`. *identical* means every property passed: no input was found on which "
        "the candidate's answers, files, output or exceptions differ from the baseline's (beyond the "
        "candidate's declared DIVERGENCES)."
    ]
    rows = []
    for record in doc["candidates"]:
        tests = record["tests"]
        failed = _failures(record)
        rows.append(
            (
                record["candidate"],
                f"**{record['verdict']}**",
                _outcomes(tests),
                _where_different(failed),
                record["candidate_sha256"][:12],
            )
        )
    parts.append(_table(("candidate", "verdict", "properties", "differs in", "source sha256"), rows))
    for record in doc["candidates"]:
        failed = _failures(record)
        if not failed:
            continue
        # Folded: a dozen shrunk examples would push the rest of the page out of sight.
        shown = [f"`{test['test']}`:\n\n```\n{test['counterexample']}\n```" for test in failed]
        summary = f"The {len(failed)} counterexamples found for {record['candidate']} (click to open)"
        parts.append(f"<details><summary>{summary}</summary>\n\n" + "\n\n".join(shown) + "\n\n</details>")
    return "\n\n".join(parts)


def divergences_section() -> str:
    """The optimized store's declared divergences, read from storage.optimized.DIVERGENCES: listed nowhere else."""
    lines = [
        "Every deliberate difference of `optimized` from the baseline, as `storage.optimized.DIVERGENCES` declares "
        "it; each is pinned by a test that shows both behaviours (tests/store/test_divergences.py).",
        "",
    ]
    lines += [f"- `{name}`: {text}" for name, text in optimized.DIVERGENCES.items()]
    return "\n".join(lines)


def history_section(inputs: Inputs, change_points: Sequence[changes.ChangePoint]) -> str:
    if not inputs.history:
        return f"*No history: {MISSING_FIGURE['history']}.*"
    measured = [p for p in inputs.history if p.skipped is None]
    machines = {p.machine_id: p.machine["cpu"] for p in inputs.history}
    lines = [
        f"{len(measured)} commits measured ({len(inputs.history) - len(measured)} skipped), on "
        + ", ".join(f"machine {mid} ({cpu})" for mid, cpu in machines.items())
        + ". Each point is the commit's store time / the frozen baseline's, timed in the same processes, with "
        "its 95% interval; a change point is a step the gate's rule (bench/rule.py) finds between a commit and the "
        "one before it, both timed in the same processes.",
    ]
    rows = [(cp.benchmark, f"`{cp.commit[:12]}`", cp.subject, cp.text()) for cp in change_points]
    lines.append(_table(("benchmark", "commit", "subject", "step against the commit before it"), rows))
    checked = [p for p in inputs.history if p.equivalence is not None]
    if checked:
        changed = changes.answer_changes(inputs.history)
        lines.append(
            f"Answers: {len(checked)} commits checked against the frozen original (the equivalence suite's quick "
            f"pass); {len(changed)} changed them:"
        )
        rows = [(f"`{c.commit[:12]}`", c.subject, c.before, c.after) for c in changed]
        lines.append(_table(("commit", "subject", "answers before", "answers from here"), rows))
    else:
        lines.append("Answers: not checked per commit in these points (measured before history checked them).")
    skipped = [p for p in inputs.history if p.skipped is not None]
    if skipped:
        lines.append("Skipped: " + "; ".join(f"`{p.commit[:12]}` ({p.subject}): {p.skipped}" for p in skipped))
    return "\n\n".join(lines)


def closing_note(verdicts: Sequence[JudgedClaim], inputs: Inputs) -> str:
    lines = []
    roles = {"proposed": "the change that makes these claims", REFERENCE: "the same claims, held against our store"}
    for candidate in (c for c in CLAIM_CANDIDATES if c in inputs.candidates):
        mine = [v for v in verdicts if v.candidate == candidate]
        counts = claims.tally([v.verdict for v in mine])
        summary = ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
        lines.append(f"- **{candidate}**, {roles.get(candidate, 'a candidate')} ({summary}):")
        for verdict in (claims.HOLDS, claims.PARTLY, claims.FAILS, claims.UNMEASURED):
            said = [
                v.claim.said + (DIFFERING_MARK if _differing_tests(inputs, candidate, v.claim.method) else "")
                for v in mine
                if v.verdict == verdict
            ]
            if said:
                lines.append(f"  - {verdict}: " + "; ".join(said))
        record = _equivalence_record(inputs, candidate)
        if record is not None:
            lines.append(f"  - equivalence to the baseline: {record['verdict']}")
    return "\n".join(lines)


def headline(verdicts: Sequence[JudgedClaim], inputs: Inputs) -> str:
    """Per candidate, one line: where it is faster or slower (by the interval), its equivalence, its claims."""
    lines = []
    for candidate in (c for c in inputs.candidates if c != BASELINE):
        mine = [(row.case, row.speedup) for row in inputs.rows if row.candidate == candidate and row.speedup]
        faster = [case for case, speedup in mine if speedup.low > 1]
        slower = [case for case, speedup in mine if speedup.high < 1]
        text = f"- **{candidate}**: faster than the baseline in {len(faster)} of {len(mine)} benchmarks"
        text += f" (95% interval above 1x), slower in {len(slower)}" + (f" ({', '.join(slower)})" if slower else "")
        record = _equivalence_record(inputs, candidate)
        if record is not None:
            where = [_where_different(_failures(record))] if _failures(record) else []
            text += f"; equivalence to the baseline: {record['verdict']}" + (
                f" (in {', '.join(where)})" if where else ""
            )
        counts = claims.tally([v.verdict for v in verdicts if v.candidate == candidate])
        if counts:
            text += "; the proposal's claims: " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items())
        lines.append(text + ".")
    return "\n".join(lines)
