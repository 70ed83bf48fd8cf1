"""`python -m bench mutants` (`nox -s mutants`): mutmut's own mutants of storage/optimized.py, judged by the
equivalence, stateful and divergence tests on the optimized store; then results/MUTATION.md.

mutmut is configured in pyproject.toml ([tool.mutmut]); each mutant runs the tests that cover its
function, under the `mutants` Hypothesis profile (few examples, derandomized, no database), so a
verdict depends on the mutant alone. A survivor is either killed by a new test, or judged equivalent
(it changes no output) in tests/equivalent_mutants.toml, with the reason and the mutated line, so a
judgement cannot pass silently to another mutant once the file changes.

Exit status: 0 at least the target share of the non-equivalent mutants killed and no survivor
without a reason; 1 otherwise; 2 mutmut missing or failing to run.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, SuiteFailed, ToolMissing, UsageError
from bench.model.results import MUTATION_REPORT, REPO_ROOT, shown, write_text_atomically

REPORT: Final = MUTATION_REPORT
EQUIVALENT: Final = REPO_ROOT / "tests" / "equivalent_mutants.toml"
TARGET_SCORE: Final = 0.95
PROFILE: Final = "mutants"
# mutmut's statuses, grouped as the report counts them.
KILLED: Final = frozenset({"killed", "caught by type check"})
APART: Final = frozenset({"timeout", "suspicious", "segfault"})  # counted apart, neither killed nor survived
SURVIVED: Final = frozenset({"survived", "no tests"})  # "no tests": no selected test runs that code at all
# The last full run's time, kept beside mutmut's own state so --report-only can still say it.
RUN_TIME: Final = REPO_ROOT / "mutants" / "bench-mutants-seconds.txt"
RESULT_LINE: Final = re.compile(r"^\s+(?P<name>\S+): (?P<status>.+)$")


@dataclass(frozen=True)
class Judgement:
    line: str  # the mutated line, as the diff shows it after its "+"
    reason: str
    test: str | None = None  # a test that pins the claim, where one can


@dataclass(frozen=True)
class Survivor:
    name: str
    status: str
    diff: str
    judgement: Judgement | None
    stale: bool  # judged, but the judgement's line is not this mutant's any more

    @property
    def explained(self) -> bool:
        return self.judgement is not None and not self.stale


def load_judgements(path: Path = EQUIVALENT) -> dict[str, Judgement]:
    if not path.is_file():
        return {}
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{shown(path)}: {e}") from e
    judgements = {}
    for name, entry in document.items():
        if not isinstance(entry, dict) or not {"line", "reason"} <= entry.keys():
            raise UsageError(f"{shown(path)}: [{name!r}] needs a `line` and a `reason`")
        judgements[name] = Judgement(entry["line"], entry["reason"], entry.get("test"))
    return judgements


def _environment() -> dict[str, str]:
    return {**os.environ, "HYPOTHESIS_PROFILE": PROFILE}


def _mutmut(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mutmut", *args]
    done = subprocess.run(command, cwd=REPO_ROOT, env=_environment(), capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
        raise SuiteFailed(f"mutmut {' '.join(args)} failed (exit {done.returncode}):\n" + "\n".join(tail))
    return done


def statuses() -> dict[str, str]:
    """Every mutant mutmut has judged, by name: `mutmut results --all true`."""
    found = {}
    for line in _mutmut("results", "--all", "true").stdout.splitlines():
        match = RESULT_LINE.match(line)
        if match:
            found[match["name"]] = match["status"]
    return found


def mutated_lines(diff: str) -> list[str]:
    return [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]


def survivors(found: dict[str, str], judgements: dict[str, Judgement]) -> list[Survivor]:
    result = []
    for name, status in found.items():
        if status not in SURVIVED:
            continue
        diff = _mutmut("show", name).stdout.split("\n", 1)[-1].strip()
        judgement = judgements.get(name)
        stale = judgement is not None and judgement.line.strip() not in mutated_lines(diff)
        result.append(Survivor(name, status, diff, judgement, stale))
    return result


def test_selection(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The test files mutmut runs, as [tool.mutmut] lists them."""
    config = tomllib.loads(pyproject.read_text())["tool"]["mutmut"]
    return list(config["pytest_add_cli_args_test_selection"])


def score(found: dict[str, str], equivalent: int) -> tuple[int, int]:
    """Killed over the mutants that are not equivalent and not counted apart."""
    counts = Counter(found.values())
    killed = sum(counts[s] for s in KILLED)
    judged = sum(counts[s] for s in KILLED | SURVIVED) - equivalent
    return killed, judged


def render(found: dict[str, str], left: list[Survivor], seconds: float | None, max_children: int) -> str:
    counts = Counter(found.values())
    equivalent = sum(s.explained for s in left)
    killed, judged = score(found, equivalent)
    share = killed / judged if judged else float("nan")
    unexplained = [s for s in left if not s.explained]
    lines = [
        "# Mutation score",
        "",
        f"Generated by `python -m bench mutants` on {datetime.now(UTC):%Y-%m-%d}: mutmut's own mutants of",
        "`storage/optimized.py` ([tool.mutmut] in pyproject.toml), each judged by the tests that cover its",
        f"function among {', '.join(test_selection())}, on the optimized store only, Hypothesis profile",
        f"`{PROFILE}` (tests/conftest.py). Never edited by hand.",
        "",
        f"- **score: {killed} of {judged} non-equivalent mutants killed ({share:.1%})**; target "
        f"{TARGET_SCORE:.0%}: {'met' if share >= TARGET_SCORE else 'NOT met'}",
        f"- killed over every mutant not counted apart, the equivalent ones included: {killed} of "
        f"{judged + equivalent} ({killed / (judged + equivalent) if judged + equivalent else float('nan'):.1%})",
        f"- mutants: {len(found)} in all; " + ", ".join(f"{status} {n}" for status, n in counts.most_common()),
        f"- judged equivalent (they change no output; reasons below, from `{shown(EQUIVALENT)}`): {equivalent}",
        f"- counted apart, neither killed nor survived: {', '.join(f'{s} {counts[s]}' for s in sorted(APART))}",
        f"- survivors without a written reason: **{len(unexplained)}**",
    ]
    if counts["not checked"]:
        lines[2:2] = [
            f"**Partial run**: {counts['not checked']} of {len(found)} mutants not checked yet; "
            "`python -m bench mutants` goes on where it stopped.",
            "",
        ]
    if seconds is not None:
        lines.append(f"- run time: {seconds / 60:.0f} minutes, {max_children} mutants at a time")
    lines += ["", "## Survivors", ""]
    if not left:
        lines.append("None.")
    for survivor in left:
        if survivor.explained:
            assert survivor.judgement is not None
            verdict = f"equivalent: {survivor.judgement.reason}"
            if survivor.judgement.test:
                verdict += f" (pinned by `{survivor.judgement.test}`)"
        elif survivor.stale:
            verdict = "**judged for another mutant: the line in tests/equivalent_mutants.toml is not this diff's**"
        else:
            verdict = "**no reason written: kill it or judge it**"
        lines += [f"### `{survivor.name}` ({survivor.status})", "", verdict, "", "```diff", survivor.diff, "```", ""]
    return "\n".join(lines) + "\n"


def mutants(*, max_children: int, report_only: bool, names: Sequence[str], output: Path) -> ExitCode:
    """mutmut's run (unless report_only), then the score and every survivor to output; only `names`: no report."""
    if importlib.util.find_spec("mutmut") is None:
        raise ToolMissing("mutmut is not installed: pip install -e '.[mutants]'")
    if max_children < 1:
        raise UsageError("--max-children must be at least 1")
    judgements = load_judgements()
    seconds = None
    if not report_only:
        started = time.monotonic()
        # mutmut draws its own progress; its output goes straight to the terminal.
        command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *names]
        done = subprocess.run(command, cwd=REPO_ROOT, env=_environment(), check=False)
        if done.returncode != 0:
            raise SuiteFailed(f"mutmut run failed (exit {done.returncode})")
        seconds = time.monotonic() - started
        if not names:
            write_text_atomically(RUN_TIME, f"{seconds:.1f}\n")
    elif RUN_TIME.is_file():
        seconds = float(RUN_TIME.read_text())
    found = statuses()
    if not found:
        raise UsageError("mutmut has judged no mutants yet: run without --report-only")
    if names:
        chosen = sorted(n for n in found if any(fnmatch.fnmatchcase(n, pattern) for pattern in names))
        for name in chosen:
            print(f"{name}: {found[name]}")
        return ExitCode.FAILED if any(found[n] in SURVIVED for n in chosen) else ExitCode.OK
    left = survivors(found, judgements)
    report = render(found, left, seconds, max_children)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(output, report)
    killed, judged = score(found, sum(s.explained for s in left))
    unexplained = sum(not s.explained for s in left)
    print(f"{killed}/{judged} non-equivalent mutants killed; {unexplained} survivors without a reason")
    print(f"report written to {shown(output)}")
    complete = "not checked" not in found.values()
    met = judged and killed / judged >= TARGET_SCORE and not unexplained
    return ExitCode.OK if complete and met else ExitCode.FAILED
