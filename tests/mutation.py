"""Mutation check: small semantic changes to storage/optimized.py, every one of which the suite must catch.

    python -m tests.mutation [--only NAME ...] [--list] [--jobs N] [--profile ci|thorough]

Each mutant is applied to a copy of the project in a temporary folder (the checkout, which others
are testing, is never touched); the equivalence suite runs there on the optimized candidate and
stops at its first failure. A mutant is killed only by a Mismatch. A full run writes
results/MUTATION_CURATED.md. Exit status: 0 all killed, 1 a mutant survived, 2 the check itself failed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = Path("storage/optimized.py")
SUITE = ("tests/test_equivalence.py", "tests/test_stateful.py")
REPORT = REPO / "results" / "MUTATION_CURATED.md"  # results/MUTATION.md is mutmut's (python -m bench mutants)


# A token of a fragment: a string literal whole, a name or number, or one other character.
_TOKEN = re.compile(r""" "(?:[^"\\]|\\.)*" | '(?:[^'\\]|\\.)*' | \w+ | [<>=!]= | -> | // | \*\* | \S """, re.VERBOSE)
_CLOSING = frozenset(")]}")
# After these a formatter may wrap what follows in parentheses (a long condition, value or expression).
_MAY_WRAP = frozenset({"if", "elif", "while", "return", "assert", "="})


def fragment_pattern(fragment: str) -> re.Pattern[str]:
    """Matches `fragment` however a formatter lays it out: any whitespace and line breaks between its tokens,
    a trailing comma before a closing bracket, and parentheses wrapped around a condition or a value.
    So a reformat of the target leaves every mutant placeable."""
    parts: list[str] = []
    conditions: list[str] = []  # names of the optional parentheses around an if/elif/while condition
    wrapped: list[str] = []  # the same around a value, closed at the fragment's end
    tokens = _TOKEN.findall(fragment)
    for position, token in enumerate(tokens):
        if token == ":" and conditions:
            parts.append(rf"(?({conditions.pop()})\s*\))")  # the wrap of a condition closes before ':'
        if token in _CLOSING and parts:
            parts.append(r"(?:,\s*)?")  # a formatter's magic trailing comma before a closing bracket
        parts.append(re.escape(token))
        if token in _MAY_WRAP and position + 1 < len(tokens) and tokens[position + 1] != "(":
            opened = conditions if token in ("if", "elif", "while") else wrapped
            opened.append(f"wrap{position}")
            parts.append(rf"(?P<{opened[-1]}>\s*\()?")
    closing = "".join(rf"(?({name})\s*\))" for name in reversed(wrapped))  # no whitespace taken unless wrapped
    return re.compile(r"\s*".join(parts) + closing)


class UnplacedMutant(LookupError):
    """A mutant whose text no longer occurs exactly once in the target, or whose result does not parse."""


@dataclass(frozen=True)
class Mutant:
    """One small change: a fragment of storage/optimized.py (matched token by token) and what replaces it."""

    name: str
    change: str
    edits: tuple[tuple[str, str], ...]

    def apply(self, source: str) -> str:
        for old, new in self.edits:
            found = list(fragment_pattern(old).finditer(source))
            if len(found) != 1:
                raise UnplacedMutant(
                    f"mutant {self.name}: {old!r} occurs {len(found)} times in {TARGET}, not once: "
                    "edit its text in tests/mutation.py"
                )
            start, end = found[0].span()
            source = source[:start] + _laid_out_as(old, new, source, start) + source[end:]
        try:
            ast.parse(source)
        except SyntaxError as e:
            raise UnplacedMutant(f"mutant {self.name}: placed in {TARGET}, the result does not parse ({e})") from e
        return source


def _laid_out_as(old: str, new: str, source: str, start: int) -> str:
    """The replacement as the target lays out the place it goes: the whitespace around `old` (not matched)
    dropped from `new`, and its later lines moved to the indentation of the line it is placed on."""
    lead, trail = len(old) - len(old.lstrip()), old[len(old.rstrip()) :]
    base = None
    if lead and not new[:lead].strip():
        new, base = new[lead:], lead  # new's first line stood at old's indentation
    if trail and new.endswith(trail):
        new = new[: -len(trail)]
    lines = new.split("\n")
    if len(lines) == 1:
        return new
    line_start = source.rfind("\n", 0, start) + 1
    indent = len(source[line_start:start]) - len(source[line_start:start].lstrip())
    if base is None:  # a fragment from mid-line: its later lines stood at its line's indentation
        base = min(len(line) - len(line.lstrip()) for line in lines[1:] if line.strip())
    moved = [
        " " * max(0, len(line) - len(line.lstrip()) - base + indent) + line.lstrip() if line.strip() else line
        for line in lines[1:]
    ]
    return "\n".join([lines[0], *moved])


def _mutant(name: str, change: str, *edits: tuple[str, str]) -> Mutant:
    return Mutant(name, change, edits)


MUTANTS = (
    _mutant(
        "recent-runs-ascending",
        "get_recent_runs sorts names ascending",
        ("names.sort(reverse=True)", "names.sort()"),
    ),
    _mutant(
        "recent-runs-case-folded",
        "get_recent_runs sorts names case-insensitively",
        ("names.sort(reverse=True)", "names.sort(key=str.casefold, reverse=True)"),
    ),
    _mutant(
        "recent-runs-limit-after-one-more",
        "get_recent_runs stops one run later",
        ("if len(runs) >= limit:", "if len(runs) > limit:"),
    ),
    _mutant(
        "recent-runs-folders-without-summary",
        "get_recent_runs lists every folder, summary or not",
        ('if _stat_or_none(f"{prefix}{name}/{SUMMARY_NAME}") is None:', 'if not os.path.isdir(f"{prefix}{name}"):'),
    ),
    _mutant(
        "p50-index-plus-one",
        "p50 per satellite takes the next element up",
        (
            '"mean_ms": sum(durations) / n,\n        "p50_ms": s[n // 2],',
            '"mean_ms": sum(durations) / n,\n        "p50_ms": s[min(n // 2 + 1, n - 1)],',
        ),
    ),
    _mutant(
        "p95-index-minus-one",
        "p95 per type takes the element below",
        (
            '"p95_ms": s[int(n * 0.95)],\n        "p99_ms"',
            '"p95_ms": s[max(int(n * 0.95) - 1, 0)],\n        "p99_ms"',
        ),
    ),
    _mutant(
        "p99-index-minus-one",
        "p99 takes the element below",
        ('"p99_ms": s[int(n * 0.99)],', '"p99_ms": s[max(int(n * 0.99) - 1, 0)],'),
    ),
    _mutant(
        "mean-of-sorted-list",
        "mean per type sums the sorted list",
        ('"mean_ms": sum(durations) / n,  # summed', '"mean_ms": sum(s) / n,  # summed'),
    ),
    _mutant(
        "satellite-mean-of-sorted-list",
        "mean per satellite sums the sorted list",
        ('"mean_ms": sum(durations) / n,\n        "p50_ms"', '"mean_ms": sum(s) / n,\n        "p50_ms"'),
    ),
    _mutant(
        "max-of-sorted-list",
        "max per type is the last sorted element (differs for NaN, -0.0/0.0)",
        ('"max_ms": max(durations),  # over', '"max_ms": s[-1],  # over'),
    ),
    _mutant(
        "min-of-sorted-list",
        "min per type is the first sorted element",
        ('"min_ms": min(durations),', '"min_ms": s[0],'),
    ),
    _mutant(
        "case-folded-metric-types",
        "stats group metric types case-insensitively",
        (
            "by_type[m.metric_type].append(m.duration_ms)",
            "by_type[m.metric_type.casefold() if isinstance(m.metric_type, str) else m.metric_type]"
            ".append(m.duration_ms)",
        ),
    ),
    _mutant(
        "case-folded-satellite-ids",
        "stats group satellites case-insensitively",
        (
            "by_sat[m.satellite_id][m.metric_type]",
            "by_sat[m.satellite_id.lower() if isinstance(m.satellite_id, str) else m.satellite_id][m.metric_type]",
        ),
    ),
    _mutant(
        "case-folded-other-run",
        "compare_runs looks the other run up in lower case",
        (
            "_summary_key_in(self._results_key, other_run_id)",
            "_summary_key_in(self._results_key, other_run_id.lower())",
        ),
    ),
    _mutant(
        "counts-from-the-list",
        "measurement_types counts every measurement, appended ones too",
        (
            "measurement_types = dict(collector._measurement_log) if measurements else {}",
            "measurement_types = {t: [m.metric_type for m in measurements].count(t) "
            "for t in dict.fromkeys(m.metric_type for m in measurements)}",
        ),
    ),
    _mutant(
        "subclass-taken-for-plain",
        "a LatencyCollector subclass gets the fast path, its overrides ignored",
        ("type(collector) is LatencyCollector", "isinstance(collector, LatencyCollector)"),
    ),
    _mutant(
        "cache-check-dropped",
        "a cached summary is served without checking the file's signature",
        (
            "if entry is None or entry.signature != _signature(st):\n            return None\n        if entry.blob",
            "if entry is None:\n            return None\n        if entry.blob",
        ),
    ),
    _mutant(
        "compare-view-check-dropped",
        "compare_runs serves a cached view without checking the file's signature",
        (
            "if entry is None or entry.signature != _signature(st):\n            return None\n        if entry.view",
            "if entry is None:\n            return None\n        if entry.view",
        ),
    ),
    _mutant(
        "cache-racy-window-dropped",
        "a summary read within the racy window is cached all the same",
        ("if use_cache and _is_trusted(st, read_started_ns):", "if use_cache:"),
    ),
    _mutant(
        "cache-coarse-window-dropped",
        "files with whole-second times get the 50 ms window, not the 3 s one",
        ("        window = _COARSE_FS_RACY_WINDOW_NS", "        window = _RACY_WINDOW_NS"),
    ),
    _mutant(
        "cache-copy-dropped",
        "cache hits hand out one shared dict instead of a fresh copy",
        ("return marshal.loads(entry.blob)", "return entry.blob"),
        ("entry._replace(text=None, blob=blob)", "entry._replace(text=None, blob=data)"),
    ),
    _mutant(
        "export-error-swallowed",
        "an overridden export_csv that raises is ignored",
        (
            "                export_csv(csv_tmp)\n",
            "                with contextlib.suppress(Exception):\n                    export_csv(csv_tmp)\n",
        ),
    ),
    _mutant(
        "csv-write-error-swallowed",
        "an error writing the CSV (an unencodable name) is ignored",
        (
            "                write_csv_fd(fd)\n",
            "                with contextlib.suppress(Exception):\n                    write_csv_fd(fd)\n",
        ),
    ),
    _mutant(
        "save-error-swallowed",
        "any error while writing the two files is ignored",
        ("        self._save_pair(", "        with contextlib.suppress(Exception):\n            self._save_pair("),
    ),
    _mutant(
        "temporaries-left-behind",
        "a failed save leaves its temporary files",
        ("                    _remove_if_present(leftover)", "                    pass"),
    ),
    _mutant(
        "csv-text-unquoted",
        "names with commas, quotes or newlines are written to the CSV unquoted",
        ("quoted[text] = _csv_field(text)", "quoted[text] = text"),
    ),
    _mutant(
        "csv-lf-line-ends",
        "CSV rows end in LF, not CRLF",
        ('"\\r\\n".join(map(",".join,', '"\\n".join(map(",".join,'),
    ),
    _mutant(
        "json-nan-lowercase",
        "NaN is written as nan",
        ('text = "NaN"', 'text = "nan"'),
    ),
    _mutant(
        "json-text-unescaped",
        "str values go into the summary without JSON escaping",
        ("            text = encode_basestring_ascii(value)", "            text = f'\"{value}\"'"),
    ),
    _mutant(
        "json-bool-as-int",
        "a bool value is written as an int (1, not true)",
        ("elif kind is int:", "elif isinstance(value, int):"),
    ),
    _mutant(
        "timestamp-in-seconds",
        "the summary's timestamp drops its microseconds",
        (
            "            timestamp = datetime.now().isoformat()\n            write_csv_fd = partial",
            '            timestamp = datetime.now().isoformat(timespec="seconds")\n            write_csv_fd = partial',
        ),
    ),
    _mutant(
        "diff-sign-flipped",
        "compare_runs subtracts this run from the other",
        ('"diff_ms": this_mean - other_mean,', '"diff_ms": other_mean - this_mean,'),
    ),
    _mutant(
        "cached-diff-sign-flipped",
        "compare_runs between cached runs subtracts this run from the other",
        ('"diff_ms": this_data[0] - other_data[0],', '"diff_ms": other_data[0] - this_data[0],'),
    ),
    _mutant(
        "compare-view-keeps-a-mutable-value",
        "a compare view keeps a dict or list value, so the answer shares it with the cache",
        ("type(mean) not in _IMMUTABLE_SCALARS or type(p95) not in _IMMUTABLE_SCALARS", "False"),
    ),
    _mutant(
        "compare-reads-this-run-first",
        "compare_runs reads this run before returning for a missing other run (prints its read errors)",
        (
            "        this_metrics = _summary_for_compare(self._summary_key)\n        if this_metrics is None:",
            "        if this_metrics is None:",
        ),
        (
            "        if other_metrics is None:  # the original's order",
            "        this_metrics = _summary_for_compare(self._summary_key)\n"
            "        if other_metrics is None:  # the original's order",
        ),
    ),
    _mutant(
        "compare-tests-truthiness",
        "compare_runs treats a summary of {} as missing",
        ("        if this_metrics is None:  #", "        if not this_metrics:  #"),
        ("        if other_metrics is None:  #", "        if not other_metrics:  #"),
    ),
    _mutant(
        "compare-reads-default-dir",
        "compare_runs reads the other run under the default folder, against its declared divergence",
        (
            "_summary_key_in(self._results_key, other_run_id)",
            "_summary_key_in(DEFAULT_RESULTS_DIR, other_run_id)",
        ),
    ),
    _mutant(
        "run-id-dotdot-accepted",
        "'..' is accepted as a run id",
        ('bad = run_id in ("", ".", "..")', 'bad = run_id in ("", ".")'),
    ),
    _mutant(
        "run-id-255-bytes-refused",
        "a run id of exactly 255 bytes is refused",
        ("> _NAME_MAX_BYTES", ">= _NAME_MAX_BYTES"),
    ),
)


@dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    outcome: str  # killed | survived | error | timeout
    killed_by: str
    seconds: float


def _copy_project(destination: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", ".pytest_cache")
    for folder in ("storage", "tests"):
        shutil.copytree(REPO / folder, destination / folder, ignore=ignore)
    shutil.copy2(REPO / "pyproject.toml", destination / "pyproject.toml")


def _environment(profile: str) -> dict[str, str]:
    # The copy must be what `import storage` finds: its folder is the cwd, first on sys.path under -m.
    inherited = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    return {**inherited, "HYPOTHESIS_PROFILE": profile, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "200"}


_FAILED = re.compile(r"^FAILED (\S+)", re.MULTILINE)
_MISMATCH = re.compile(r"^E\s+(?:tests\.common\.)?differential\.Mismatch: ", re.MULTILINE)


def _run_suite(project: Path, profile: str, timeout_s: float) -> tuple[int | None, str]:
    command = [sys.executable, "-m", "pytest", *SUITE, "-k", "optimized", "-x", "-q", "-p", "no:cacheprovider"]
    try:
        run = subprocess.run(
            command,
            cwd=project,
            env=_environment(profile),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, ""
    return run.returncode, run.stdout + run.stderr


def _judge(mutant: Mutant, source: str, profile: str, timeout_s: float) -> Verdict:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"mutant-{mutant.name}-") as folder:
        project = Path(folder)
        _copy_project(project)
        (project / TARGET).write_text(mutant.apply(source))
        code, output = _run_suite(project, profile, timeout_s)
    seconds = time.perf_counter() - started
    if code is None:
        return Verdict(mutant, "timeout", f"no verdict within {timeout_s:.0f} s", seconds)
    if code == 0:
        return Verdict(mutant, "survived", "", seconds)
    failed = _FAILED.search(output)
    if code == 1 and failed and _MISMATCH.search(output):
        return Verdict(mutant, "killed", failed[1], seconds)
    last_lines = " | ".join(output.strip().splitlines()[-3:])
    return Verdict(mutant, "error", f"exit {code}, not a Mismatch: {last_lines}", seconds)


def _check_the_unmutated_copy(source: str, profile: str, timeout_s: float) -> None:
    """The suite must pass on the unmutated store, and the copy's store must be the one imported."""
    with tempfile.TemporaryDirectory(prefix="mutant-none-") as folder:
        project = Path(folder)
        _copy_project(project)
        probe = subprocess.run(
            [sys.executable, "-c", "import storage.optimized as m; print(m.__file__)"],
            cwd=project,
            env=_environment(profile),
            capture_output=True,
            text=True,
            check=True,
        )
        imported = Path(probe.stdout.strip()).resolve()
        if imported != (project / TARGET).resolve():
            raise RuntimeError(f"the copy imports {imported}, not its own {TARGET}: mutants would not be tested")
        code, output = _run_suite(project, profile, timeout_s)
    if code != 0:
        raise RuntimeError(f"the suite fails on the unmutated store (exit {code}); fix that first:\n{output[-3000:]}")


def _report(verdicts: list[Verdict], source: str, profile: str, wall_s: float) -> str:
    killed = [v for v in verdicts if v.outcome == "killed"]
    others = [v for v in verdicts if v.outcome != "killed"]
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    lines = [
        "# Mutation check",
        "",
        f"Generated by `python -m tests.mutation` (`nox -s curated-mutants`) on {datetime.now(UTC):%Y-%m-%d %H:%M} "
        "UTC; not edited by hand.",
        "",
        f"- mutated: `{TARGET}` (sha256 {digest}...), each mutant in a temporary copy of the project",
        f"- suite: `pytest {' '.join(SUITE)} -k optimized -x`, Hypothesis profile `{profile}`; "
        "a mutant counts as killed only when a test fails with a Mismatch",
        f"- **score: {len(killed)}/{len(verdicts)} mutants killed** (wall time {wall_s:.0f} s)",
        f"- survivors: {', '.join(v.mutant.name for v in others) if others else 'none'}",
        "",
        "| mutant | change | verdict | first failing test | seconds |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for v in verdicts:
        lines.append(f"| `{v.mutant.name}` | {v.mutant.change} | {v.outcome} | {v.killed_by} | {v.seconds:.1f} |")
    if others:
        lines += ["", "## Not killed", ""]
        lines += [f"- `{v.mutant.name}` ({v.outcome}): {v.mutant.change}. {v.killed_by}" for v in others]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run these mutants only (no report is written)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=1, help="mutants judged at once (default 1: a quiet machine)")
    parser.add_argument("--profile", default="ci", choices=("ci", "thorough"), help="Hypothesis profile (ci)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a mutant counts as timed out")
    args = parser.parse_args(argv)

    if args.list:
        for mutant in MUTANTS:
            print(f"{mutant.name:40} {mutant.change}")
        return 0
    chosen = [m for m in MUTANTS if not args.only or m.name in args.only]
    unknown = sorted(set(args.only or ()) - {m.name for m in MUTANTS})
    if unknown:
        parser.error(f"unknown mutants: {', '.join(unknown)} (see --list)")

    source = (REPO / TARGET).read_text()
    try:
        for mutant in chosen:
            mutant.apply(source)  # every mutant must still apply before anything runs
        print(f"checking the suite passes on the unmutated {TARGET} ...", flush=True)
        _check_the_unmutated_copy(source, args.profile, args.timeout)
    except (UnplacedMutant, RuntimeError, subprocess.CalledProcessError) as e:
        print(f"mutation check not run: {e}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    verdicts: list[Verdict] = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(_judge, mutant, source, args.profile, args.timeout) for mutant in chosen]
        for i, future in enumerate(futures, 1):
            verdict = future.result()
            verdicts.append(verdict)
            print(
                f"[{i}/{len(chosen)}] {verdict.mutant.name}: {verdict.outcome} {verdict.killed_by} "
                f"({verdict.seconds:.1f} s)",
                flush=True,
            )
    wall_s = time.perf_counter() - started
    killed = sum(v.outcome == "killed" for v in verdicts)
    print(f"{killed}/{len(verdicts)} mutants killed")
    if not args.only:
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(_report(verdicts, source, args.profile, wall_s))
        print(f"wrote {REPORT.relative_to(REPO)}")
    if any(v.outcome in ("error", "timeout") for v in verdicts):
        return 2
    return 0 if killed == len(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
