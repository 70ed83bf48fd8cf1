"""`python -m bench mutants --quick-pass`: the same mutants of storage/optimized.py against the quick answer pass
exactly as the gate and history run it (bench.runners.equivalence.SUITE, profile `quick`, the optimized store),
beside the full suite's verdicts from the last `python -m bench mutants` in this checkout; both kept in
results/gate/mutation_quick.json, and GATE.md regenerated from it.

The quick pass runs in a copy of the checkout whose [tool.mutmut] selects its files: mutmut reads its settings from
the folder it runs in, and the full run's state in mutants/ stays as it is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from bench.errors import ExitCode, SuiteFailed, UsageError
from bench.jobs.mutants import KILLED, RESULT_LINE, statuses
from bench.model import git, results
from bench.model.results import REPO_ROOT
from bench.report.gate_report import GATE_REPORT, write_gate_report
from bench.runners import equivalence
from bench.runners.equivalence import QUICK_PROFILE, SUITE

QUICK_RESULTS: Final = results.MUTATION_QUICK.path
SELECTION: Final = re.compile(r"^pytest_add_cli_args_test_selection = \[.*?\]\n", re.M | re.S)


def _copy_of_checkout(folder: Path) -> Path:
    """The checkout's files as git sees them (tracked and untracked, none ignored), copied into folder."""
    repo = git.repository(REPO_ROOT)
    listed = git.output(repo, "ls-files", "--cached", "--others", "--exclude-standard").splitlines()
    for name in listed:
        source = REPO_ROOT / name
        if source.is_file():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    pyproject = folder / "pyproject.toml"
    files = ", ".join(f'"{path}"' for path in SUITE)
    text, count = SELECTION.subn(f"pytest_add_cli_args_test_selection = [{files}]\n", pyproject.read_text())
    if count != 1:
        raise UsageError("pyproject.toml has no [tool.mutmut] pytest_add_cli_args_test_selection to replace")
    pyproject.write_text(text)
    return folder


def _quick_statuses(folder: Path, max_children: int) -> tuple[dict[str, str], float]:
    environment = {**os.environ, "HYPOTHESIS_PROFILE": QUICK_PROFILE}
    started = time.monotonic()
    command = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children)]
    done = subprocess.run(command, cwd=folder, env=environment, check=False)
    if done.returncode != 0:
        raise SuiteFailed(f"mutmut run of the quick pass failed (exit {done.returncode})")
    seconds = time.monotonic() - started
    listed = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {m["name"]: m["status"] for line in listed.splitlines() if (m := RESULT_LINE.match(line))}
    return found, seconds


def quick_pass(*, max_children: int) -> ExitCode:
    """The quick pass's verdict on every mutant, beside the full suite's; saved for GATE.md."""
    full = statuses()
    if not full or "not checked" in full.values():
        raise UsageError("no complete full run in mutants/ to compare with: run `python -m bench mutants` first")
    started = time.monotonic()
    equivalence.check_named("optimized")  # the quick pass once, as the gate runs it: its time on one store
    pass_seconds = time.monotonic() - started
    with tempfile.TemporaryDirectory(prefix="mutants-quick-") as scratch:
        quick, seconds = _quick_statuses(_copy_of_checkout(Path(scratch)), max_children)
    missing = sorted(set(full) - set(quick))
    if missing:
        raise SuiteFailed(f"the quick pass judged other mutants than the full run: {missing[:3]} ...")
    killed_full = {name for name, status in full.items() if status in KILLED}
    killed_both = {name for name in killed_full if quick[name] in KILLED}
    document = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "commit": git.head(git.repository(REPO_ROOT)),
        "suite": list(SUITE),
        "profile": QUICK_PROFILE,
        "seconds": seconds,
        "pass_seconds": pass_seconds,
        "max_children": max_children,
        "full": full,
        "quick": quick,
    }
    results.write_json_atomically(QUICK_RESULTS, document)
    share = len(killed_both) / len(killed_full) if killed_full else float("nan")
    print(
        f"the quick pass kills {len(killed_both)} of the {len(killed_full)} mutants the full suite kills ({share:.1%})"
    )
    write_gate_report()  # GATE.md reads the file just written: regenerated, never left showing the last run's share
    print(f"written to {results.shown(QUICK_RESULTS)}; {results.shown(GATE_REPORT)} regenerated")
    return ExitCode.OK
