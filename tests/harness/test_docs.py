"""What the docs and the code say of the code is true: the commands they name run, the files they name exist,
no function is left without a caller, every Python file is linted, and the READMEs quote no measured figure
by hand (they link to the generated reports, which cannot go stale)."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.common.store_repository import REPO_ROOT

READMES = ("README.md", "bench/README.md", "tests/README.md", "results/application/README.md")
PROSE = (*READMES, "pyproject.toml", "noxfile.py", ".github/workflows/perf.yml", "examples/metrics-store-perf.yml")
SOURCES = tuple(
    path
    for folder in ("bench", "storage", "metrics_store_bench", "tests/common")
    for path in sorted((REPO_ROOT / folder).rglob("*.py"))
)
MODULE_RUN = re.compile(r"\bpython3? -m ([A-Za-z_][\w.]*)")
SOURCE_PATH = re.compile(r"(?<![\w/.-])((?:bench|storage|tests|metrics_store_bench)/[\w/]+\.py)\b")


def _text(path: str | Path) -> str:
    return (REPO_ROOT / path).read_text()


def _runs(origin: str | None) -> bool:
    return origin is not None and 'if __name__ == "__main__"' in Path(origin).read_text()


def test_every_python_m_named_in_the_docs_is_a_program() -> None:
    """`python -m X` must run something: a package with __main__, or a module with a main guard."""
    wrong = []
    ours = ("bench", "storage", "tests", "metrics_store_bench")  # other tools are installed by the docs' own commands
    for doc in PROSE:
        for name in set(MODULE_RUN.findall(_text(doc))):
            if name.split(".")[0] not in ours:
                continue
            spec = importlib.util.find_spec(name)
            if spec is None:
                wrong.append(f"{doc}: python -m {name}: no such module")
            elif spec.submodule_search_locations is not None:
                if importlib.util.find_spec(f"{name}.__main__") is None:
                    wrong.append(f"{doc}: python -m {name}: a package without __main__")
            elif not _runs(spec.origin):
                wrong.append(f"{doc}: python -m {name}: runs nothing and exits 0")
    assert wrong == []


# The frozen original is never edited (tests/store/test_baseline_frozen.py pins its bytes): its docstring keeps
# the path its pin test had when it was frozen.
MEASURED = (REPO_ROOT / "storage" / "baseline.py",)


def test_every_source_file_the_docs_and_the_code_name_exists() -> None:
    named = [
        (where, path)
        for where in (*PROSE, *SOURCES)
        if where not in MEASURED
        for path in SOURCE_PATH.findall(_text(where))
    ]
    missing = [f"{where}: {path}" for where, path in named if not (REPO_ROOT / path).is_file()]
    assert named and missing == []


@pytest.mark.parametrize("readme", READMES)
def test_the_readmes_quote_no_measured_figure(readme: str) -> None:
    """Bench runs and intervals belong to the generated reports (results/REPORT.md, results/GATE.md ...)."""
    text = _text(readme)
    assert re.findall(r"\b\d{8}T\d{6}-[0-9a-f]{6}\b", text) == []  # a bench run's id
    assert re.findall(r"\b\d+(?:\.\d+)?x? \[[+-]?\d+(?:\.\d+)?%?, [+-]?\d+(?:\.\d+)?%?\]", text) == []  # intervals


def test_every_function_and_class_of_the_harness_has_a_caller() -> None:
    """A top-level definition named nowhere but where it is defined is dead code (commands' hooks aside)."""
    everything = "\n".join(
        path.read_text()
        for folder in ("bench", "tests", "metrics_store_bench", "storage")
        for path in (REPO_ROOT / folder).rglob("*.py")
    ) + _text("noxfile.py")
    hooks = {"add_arguments", "run", "main"}
    defined = [
        (path, node)
        for path in sorted((REPO_ROOT / "bench").rglob("*.py"))
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
        and node.name not in hooks
        and not node.name.startswith(("pytest_", "test_"))
    ]
    dead = [
        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}"
        for path, node in defined
        if len(re.findall(rf"\b{node.name}\b", everything)) < 2
    ]
    assert dead == []


def test_ruff_looks_at_every_python_file_of_the_repository() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--show-files", "."],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    checked = {Path(line.strip()).resolve() for line in listed.splitlines() if line.strip().endswith(".py")}
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    python_files = {(REPO_ROOT / line).resolve() for line in tracked.stdout.split()}
    assert python_files - checked == set()


def _parsers() -> dict[str, argparse.ArgumentParser]:
    from bench import cli

    parsers = {}
    for name in cli.COMMANDS:
        top = cli.parser(name)
        commands = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
        parsers[name] = commands.choices[name]
    return parsers


def _options(parser: argparse.ArgumentParser) -> dict[str, object]:
    return {flag: action.default for action in parser._actions for flag in action.option_strings}


def _sections(text: str) -> list[tuple[str, str]]:
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def test_every_option_bench_readme_names_is_a_commands_and_every_default_it_states_is_the_parsers() -> None:
    """bench/README.md's options and defaults are the parsers': a renamed option or a changed default fails here."""
    parsers = _parsers()
    every = {flag for parser in parsers.values() for flag in _options(parser)}
    text = _text("bench/README.md")
    # Options of other tools' commands (pytest's, pyperf's) are theirs to document.
    ours = re.sub(r"`(?:pytest|python -m pyperf)[^`]*`", "", text)
    named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", ours))
    assert named and named <= every, sorted(named - every)
    stated = 0
    for title, body in _sections(text):
        commands = set(re.findall(r"python3? -m bench ([a-z-]+)", body)) & set(parsers)
        for flag, value in re.findall(r"`(--[a-z-]+)` (\d+)\b", body):
            stated += 1
            defaults = {_options(parsers[c]).get(flag) for c in commands}
            assert int(value) in defaults, f"{title}: `{flag}` {value}, but {sorted(commands)} default to {defaults}"
    assert stated >= 2  # history's processes and rounds at least


def test_module_docstrings_are_short_and_carry_no_change_notes() -> None:
    """At most 12 lines, and no issue numbers: git log has the history, the code says what it is."""
    long, noted = [], []
    for path in sorted(REPO_ROOT.glob("*/**/*.py")):
        if {".nox", "mutants", ".git"} & set(path.parts) or path.parts[len(REPO_ROOT.parts)] == "scripts":
            continue
        text = path.read_text()
        docstring = ast.get_docstring(ast.parse(text), clean=False) or ""
        if len(docstring.splitlines()) > 12:
            long.append(str(path.relative_to(REPO_ROOT)))
        if re.search(r"\bissue \d+", text):
            noted.append(str(path.relative_to(REPO_ROOT)))
    assert long == [] and noted == []
