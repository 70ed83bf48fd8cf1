"""The harness's own long commands under SIGKILL: what a killed `run --quick`, `gate --against`, `history`
or `calibrate` leaves behind, and whether the next run succeeds.

Each command runs in a workspace of its own: a clone of this repository with the working tree's code laid over it
(so the code under test is the code here, uncommitted changes included) and a fixture cache of its own. It is first
run whole, to learn how long it takes; then it is started again and again and its whole process group is killed with
SIGKILL at a moment drawn uniformly over that time; after each kill every file it may have written is loaded with
the harness's own loaders. Then one last run must finish. For `history`, a point file, once written, must never be
written again: the points are hashed after every kill, and the last run must say "already measured" of each.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench.errors import BenchError, HarnessError
from bench.history.points import POINT_FILE, load_points
from bench.model import git, progress, results

CODE: Final = ("bench", "storage", "tests", "schemas", "metrics_store_bench", "pyproject.toml")
BENCHMARK: Final = "get_recent_runs[100]"  # the quickest benchmark: more kills per minute, the same code paths
PNG_END: Final = b"IEND\xaeB`\x82"


@dataclass(frozen=True)
class Command:
    name: str
    argv: tuple[str, ...]
    writes: tuple[str, ...]  # folders or files under the workspace that the command writes
    finished: tuple[int, ...] = (0,)  # the exit codes of a run that finished with a verdict


def history_command(commits: int = 3, *, answers: bool = True) -> Command:
    """`history` over the last `commits` commits, the smallest benchmark, one round. answers False: no answer pass,
    for a campaign whose kills wait for a point, so land after it (the pass writes nothing of its own)."""
    args = ["history", "--last", str(commits), "--only", BENCHMARK, "--processes", "3", "--rounds", "1"]
    args += ["--max-reruns", "0", "--output", "results/kill-history", "--json", "results/latest/history.json"]
    argv = (*args, *(() if answers else ("--no-answers",)))
    return Command("history", argv, ("results/kill-history", "results/latest"))


def commands(history_commits: int = 3) -> list[Command]:
    """The four commands, at settings that keep one run short but walk every phase (fixtures, timing, counts,
    answers, the report or GATE.md, the summaries)."""
    latest = "results/latest"
    return [
        Command(
            "run --quick",
            ("run", "--quick", "--candidates", "optimized", "--output", latest, "--json", f"{latest}/run.json"),
            ("results",),
        ),
        Command(
            "gate --against",
            (
                "gate",
                "--against",
                "HEAD",
                "--only",
                BENCHMARK,
                "--processes",
                "3",
                "--max-reruns",
                "0",
                "--json",
                f"{latest}/gate.json",
                "--markdown",
                f"{latest}/gate.md",
            ),
            (latest,),
            finished=(0, 1),  # a verdict either way: this is about what a kill leaves, not about noise
        ),
        history_command(history_commits),
        Command(
            "calibrate",
            (
                "calibrate",
                "--aa-runs",
                "2",
                "--planted-runs",
                "10=1",
                "--instruction-runs",
                "1",
                "--only",
                BENCHMARK,
                "--processes",
                "3",
                "--rounds",
                "2",
                "--max-reruns",
                "0",
                "--json",
                "results/gate/kill_calibration.json",
                "--output",
                f"{latest}/GATE.md",
            ),
            ("results/gate", latest),
        ),
    ]


@dataclass
class Outcome:
    command: str
    full_run_s: float
    kills: int = 0
    files_checked: int = 0
    unloadable: list[str] = field(default_factory=list)  # "<kill n>: <path>: <why>"
    leftovers: dict[str, int] = field(default_factory=dict)  # temporaries and staging folders there at the last check
    rewritten_points: list[str] = field(default_factory=list)
    final_exit: int | None = None
    final_resumed: int | None = None  # history: points the last run found already measured
    final_measured: int | None = None


def workspace(folder: Path) -> Path:
    """A clone of this repository with the working tree's code over it, committed there, and a fixture cache of its
    own (beside it)."""
    ws = folder / "repo"
    git.output(results.REPO_ROOT, "clone", "--quiet", "--shared", str(results.REPO_ROOT), str(ws))
    for name in CODE:
        source = results.REPO_ROOT / name
        target = ws / name
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", ".nox", "mutants"))
        else:
            shutil.copyfile(source, target)
    # Committed, so that HEAD is the code under test: calibrate wants a clean tree, gate --against HEAD an A/A.
    git.output(ws, "add", "-A")
    identity = ("-c", "user.name=bench kills", "-c", "user.email=kills@localhost")
    git.output(ws, *identity, "commit", "--quiet", "--allow-empty", "-m", "the working tree's code")
    return ws


def _environment(ws: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ws),
        "PYTHONDONTWRITEBYTECODE": "1",
        "METRICS_STORE_BENCH_CACHE": str(ws.parent / "cache"),
    }


def _start(ws: Path, command: Command) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *command.argv],
        cwd=ws,
        env=_environment(ws),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _run_whole(ws: Path, command: Command) -> tuple[int, float, str]:
    started = time.monotonic()
    process = _start(ws, command)
    output, _ = process.communicate()
    return process.returncode, time.monotonic() - started, output


def _load(path: Path) -> None:
    """The file as the harness reads it; a BenchError (its message names the file) when it cannot."""
    if path.suffix == ".png":
        if not path.read_bytes().endswith(PNG_END):
            raise HarnessError(f"{path}: a PNG without its end (half-written)")
        return
    if path.suffix != ".json":
        return
    if path.parent.name == "pyperf" or path.name in ("floors.json",):
        results.load_pyperf(path)
    elif path.parent.parent.name == "pytest-benchmark":
        results.load_pytest_benchmark(path)
    elif POINT_FILE.fullmatch(path.name):
        load_points(path.parent)
    elif path.name == "equivalence.json":
        results.EQUIVALENCE.load(path)
    elif path.name == "saved_ratios.json":
        results.SAVED_RATIOS.load(path)
    elif path.name == "saved_counts.json":
        results.SAVED_COUNTS.load(path)
    else:  # a summary (--json), a calibration
        json.loads(path.read_text())


LEFTOVER: Final = {
    "temporary file (.name.pid.tmp)": re.compile(r"^\..+\.\d+\.tmp$"),
    "staging folder (.staging-*)": re.compile(r"^\.staging-"),
    "fixture being built (.building-*)": re.compile(r"^\.building-"),
}


def check(ws: Path, command: Command, kill: int, outcome: Outcome) -> None:
    """Loads every file the command may have written; counts what it left half-done beside them."""
    roots = [ws / place for place in command.writes] + [ws.parent / "cache"]
    outcome.leftovers = {}  # what lies there now: a staging folder left by kill 3 is counted once, not at every check
    for root in roots:
        if not root.exists():
            continue
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
            kind = next((k for k, pattern in LEFTOVER.items() if pattern.match(path.name)), None)
            if kind is not None:
                outcome.leftovers[kind] = outcome.leftovers.get(kind, 0) + 1
                continue
            if hidden or not path.is_file():
                continue
            if root.name == "cache" and path.name != "manifest.json":
                continue  # a fixture's own files, some unreadable on purpose: its manifest says it is whole
            outcome.files_checked += 1
            try:
                _load(path)
            except (BenchError, ValueError, OSError) as e:
                outcome.unloadable.append(f"kill {kill}: {path.relative_to(ws.parent)}: {type(e).__name__}: {e}")


def _points(ws: Path) -> dict[str, str]:
    folder = ws / "results" / "kill-history"
    if not folder.is_dir():
        return {}
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.glob("*.json")
        if POINT_FILE.fullmatch(p.name)
    }


def _after_a_new_point(ws: Path, process: subprocess.Popen[str], had: set[str], then: float) -> float:
    """Waits until the run writes a point it did not have (or ends); the seconds to wait after that."""
    while process.poll() is None and not set(_points(ws)) - had:
        time.sleep(0.05)
    return max(then, 0.0)


def campaign(
    command: Command,
    kills: int,
    folder: Path,
    seed: int,
    window: tuple[float, float] = (0.05, 1.0),
    *,
    after_a_point: bool = False,
) -> Outcome:
    """A whole run, `kills` killed ones at random moments (uniform over `window`, in shares of the whole run's
    time), then a last whole run. after_a_point: each kill waits for a new point on disk first, then its moment
    counts from there: a loaded machine's slower run is killed where points are written, not before any is."""
    ws = workspace(folder)
    rng = random.Random(seed)
    code, seconds, output = _run_whole(ws, command)
    if code not in command.finished:
        raise HarnessError(f"{command.name} did not finish in its workspace (exit {code}):\n{output[-3000:]}")
    outcome = Outcome(command.name, seconds)
    _reset(ws, command)  # the kills start from nothing, as a first run does: fixtures, points, calibration
    seen = _points(ws)
    with progress.task(f"SIGKILL {command.name}", kills) as step:
        for kill in range(1, kills + 1):
            step(f"kill {kill}")
            at = rng.uniform(*window) * seconds
            process = _start(ws, command)
            if after_a_point:
                at = _after_a_new_point(ws, process, set(_points(ws)), at - window[0] * seconds)
            try:
                process.wait(timeout=at)
            except subprocess.TimeoutExpired:
                _kill_group(process)
            else:
                _kill_group(process)  # it finished first: its workers are gone too
            outcome.kills += 1
            check(ws, command, kill, outcome)
            now = _points(ws)
            outcome.rewritten_points += [
                f"kill {kill}: {name}" for name, digest in seen.items() if now.get(name, digest) != digest
            ]
            seen.update(now)
    before = set(seen)
    code, _, output = _run_whole(ws, command)
    outcome.final_exit = code
    if command.name == "history":
        outcome.final_resumed = output.count("already measured here")
        outcome.final_measured = len(set(_points(ws)) - before)
        if outcome.final_resumed != len(before):
            outcome.rewritten_points.append(
                f"last run: {outcome.final_resumed} found already measured of {len(before)} saved"
            )
    check(ws, command, kills + 1, outcome)
    return outcome


def _reset(ws: Path, command: Command) -> None:
    """Removes what the first whole run wrote (and the fixture cache), so the kills start where a first run does."""
    shutil.rmtree(ws.parent / "cache", ignore_errors=True)
    for place in command.writes:
        target = ws / place
        if place == "results":
            shutil.rmtree(target / "latest", ignore_errors=True)
            continue
        if target.is_dir():
            if place == "results/gate":
                (target / "kill_calibration.json").unlink(missing_ok=True)
            else:
                shutil.rmtree(target, ignore_errors=True)


def failed(outcome: Outcome, command: Command) -> list[str]:
    """What went wrong in a campaign; empty when it held."""
    problems = list(outcome.unloadable) + list(outcome.rewritten_points)
    if outcome.final_exit not in command.finished:
        problems.append(f"the last run exited {outcome.final_exit}")
    return problems
