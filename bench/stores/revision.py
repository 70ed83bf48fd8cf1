"""What a revision's store imports, and from where: the one place that answers it, at a commit or in a work tree.

An absolute import resolves as the application's interpreter resolves it, against import roots in order: first
those the repository's own settings name at that revision (pytest's `pythonpath`, setuptools' `package-dir`,
`packages.find` and `packages`, hatch's and poetry's sources, setup.cfg's `package_dir`), then those the imports
imply (`src/astraguard/hil/metrics` importing `astraguard.hil.metrics.latency` puts a root at `src`). No
`__init__.py` decides a name, and none runs; a relative import resolves by path. Every module the store and its
collector reach is read at the revision, and bench.stores.loading imports them from those sources only: an import
found nowhere fails, naming the roots tried.
"""

from __future__ import annotations

import ast
import configparser
import posixpath
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import storage
from bench.errors import RevisionError, UsageError
from bench.model import git
from bench.model.location import DEFAULT_FOLDER, Location, sibling_collector
from bench.stores.snapshot import Package, Root, Snapshot, digest

# --- a revision's files -----------------------------------------------------------------------------------


class Files(Protocol):
    """A repository's files at one revision, by path from its root ("" is the root)."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def read(self, path: str) -> str: ...

    def python_files(self, folder: str) -> list[str]: ...


class CommitFiles:
    """A commit's tree, listed once; files are read with `git show`, and the work tree is never touched."""

    def __init__(self, repo: Path, commit: str) -> None:
        self._repo, self._commit = repo, commit
        self._files = frozenset(git.tree_files(repo, commit))
        self._dirs = {posixpath.dirname(path) for path in self._files}
        for folder in list(self._dirs):
            while folder:
                folder = posixpath.dirname(folder)
                self._dirs.add(folder)

    def is_file(self, path: str) -> bool:
        return path in self._files

    def is_dir(self, path: str) -> bool:
        return path in self._dirs

    def read(self, path: str) -> str:
        return git.show(self._repo, self._commit, path)

    def python_files(self, folder: str) -> list[str]:
        return sorted(p for p in self._files if p.endswith(".py") and posixpath.dirname(p) == folder)


class WorkTreeFiles:
    """The files under a work tree as they are now, untracked ones included: the side a change is judged on."""

    def __init__(self, repo: Path) -> None:
        self._repo = repo

    def is_file(self, path: str) -> bool:
        return (self._repo / path).is_file()

    def is_dir(self, path: str) -> bool:
        return (self._repo / path).is_dir()

    def read(self, path: str) -> str:
        return (self._repo / path).read_text(encoding="utf-8", errors="replace")

    def python_files(self, folder: str) -> list[str]:
        where = self._repo / folder
        return sorted(posixpath.join(folder, p.name) for p in where.glob("*.py") if p.is_file())


# --- the roots the repository's settings name ---------------------------------------------------------------


def _clean(path: Any) -> str | None:
    """A folder from the repository's root, or None for one that is not (absolute, escaping, not text)."""
    if not isinstance(path, str):
        return None
    clean = posixpath.normpath(path.strip().replace("\\", "/"))
    if clean.startswith(("/", "../")) or clean == "..":
        return None
    return "" if clean == "." else clean


def _toml(files: Files, path: str, notes: list[str]) -> dict[str, Any]:
    if not files.is_file(path):
        return {}
    try:
        return tomllib.loads(files.read(path))
    except tomllib.TOMLDecodeError as e:
        notes.append(f"{path} does not parse ({e}): its settings were not read")
        return {}


def _ini(files: Files, path: str, notes: list[str]) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    if files.is_file(path):
        try:
            parser.read_string(files.read(path), path)
        except configparser.Error as e:
            notes.append(f"{path} does not parse ({type(e).__name__}): its settings were not read")
    return parser


def _get(document: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict):
            return None
        document = document.get(key)  # type: ignore[assignment]
    return document


def _listed(value: Any) -> list[Any]:
    if isinstance(value, str):
        return value.split()
    return list(value) if isinstance(value, list) else []


def _package_parent(name: Any, path: Any) -> str | None:
    """The root a `package-dir` entry puts the package `name` under: {"astraguard": "src/astraguard"} -> "src"."""
    clean = _clean(path)
    if not isinstance(name, str) or clean is None:
        return None
    parts = name.split(".")
    folders = clean.split("/") if clean else []
    return "/".join(folders[: -len(parts)]) if folders[-len(parts) :] == parts else None


def _configured(files: Files, notes: list[str]) -> Iterator[tuple[Any, str]]:
    """(root, why) as the settings name them, in the order an interpreter would search them."""
    pyproject = _toml(files, "pyproject.toml", notes)
    for entry in _listed(_get(pyproject, "tool", "pytest", "ini_options", "pythonpath")):
        yield entry, "pyproject.toml [tool.pytest.ini_options] pythonpath"
    for name in ("pytest.ini", "tox.ini", "setup.cfg"):
        section = "tool:pytest" if name == "setup.cfg" else "pytest"
        parser = _ini(files, name, notes)
        if parser.has_option(section, "pythonpath"):
            for entry in parser.get(section, "pythonpath").split():
                yield entry, f"{name} [{section}] pythonpath"
    setuptools = _get(pyproject, "tool", "setuptools") or {}
    package_dir = _get(setuptools, "package-dir")
    if isinstance(package_dir, dict):
        for name, path in package_dir.items():
            why = "pyproject.toml [tool.setuptools] package-dir"
            yield (path if name == "" else _package_parent(name, path)), why
    for entry in _listed(_get(setuptools, "packages", "find", "where")):
        yield entry, "pyproject.toml [tool.setuptools.packages.find] where"
    if isinstance(_get(setuptools, "packages"), list) and not package_dir:
        yield "", "pyproject.toml [tool.setuptools] packages (no package-dir: the repository's root)"
    for key in (("tool", "hatch", "build", "targets", "wheel", "packages"), ("tool", "hatch", "build", "packages")):
        why = f"pyproject.toml [{'.'.join(key[:-1])}] packages"
        for entry in _listed(_get(pyproject, *key)):
            clean = _clean(entry)
            yield (None if clean is None else posixpath.dirname(clean)), why
    for entry in _get(pyproject, "tool", "poetry", "packages") or []:
        if isinstance(entry, dict):
            yield entry.get("from", ""), "pyproject.toml [tool.poetry] packages"
    setup_cfg = _ini(files, "setup.cfg", notes)
    if setup_cfg.has_option("options", "package_dir"):
        for line in setup_cfg.get("options", "package_dir").splitlines():
            name, equals, path = line.partition("=")
            if equals:
                why = "setup.cfg [options] package_dir"
                yield (path if not name.strip() else _package_parent(name.strip(), path)), why
    if setup_cfg.has_option("options.packages.find", "where"):
        yield setup_cfg.get("options.packages.find", "where"), "setup.cfg [options.packages.find] where"


def configured_roots(files: Files, notes: list[str]) -> list[Root]:
    """The import roots the revision's settings name that exist at that revision, first mention first."""
    roots: dict[str, Root] = {}
    for path, why in _configured(files, notes):
        clean = _clean(path)
        if clean is not None and clean not in roots and (clean == "" or files.is_dir(clean)):
            roots[clean] = Root(clean, why)
    return list(roots.values())


# --- the roots the folders' own imports imply ---------------------------------------------------------------


def _imported_names(tree: ast.Module) -> Iterator[tuple[ast.stmt, str]]:
    """Every absolute name an import statement reaches: `from a.b import c` reaches a.b and a.b.c."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node, node.module
            yield from ((node, f"{node.module}.{alias.name}") for alias in node.names if alias.name != "*")


def _parse(source: str, filename: str) -> ast.Module | None:
    try:
        return ast.parse(source, filename)
    except (SyntaxError, ValueError):
        return None  # it cannot import: bench.stores.loading reports the error with its line


def implied_roots(folders: list[str], tree: ast.Module, files: Files) -> list[Root]:
    """The roots under which a module's absolute imports reach the loaded folders (the longest trailing part first).

    A root at a folder itself (a bare import of a sibling, as a script's folder is on sys.path) counts only for
    a sibling that exists; a standard-library name never implies a root.
    """
    found = []
    for node, name in _imported_names(tree):
        wanted = name.split(".")
        if wanted[0] in sys.stdlib_module_names:
            continue
        for folder in folders:
            parts = folder.split("/") if folder else []
            for depth in range(len(parts) + 1):
                trailing = parts[depth:]
                sibling = posixpath.join(folder, wanted[0])
                if not trailing and not (files.is_file(f"{sibling}.py") or files.is_dir(sibling)):
                    continue
                if wanted[: len(trailing)] == trailing:
                    where = f"{folder or '.'}:{getattr(node, 'lineno', 0)}"
                    found.append(Root("/".join(parts[:depth]), f"implied by `{ast.unparse(node)}` in {where}"))
                    break
    return found


# --- resolving the closure ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where an import lands: a module of a folder, or the folder itself (a package, whose __init__ never runs)."""

    folder: str
    module: str | None


def find(files: Files, roots: list[Root], dotted: str) -> Target | None:
    """The file `dotted` names under the first root that holds it, as the interpreter searches sys.path."""
    parts = dotted.split(".")
    for root in roots:
        base = posixpath.join(root.path, *parts)
        if files.is_file(f"{base}.py"):
            return Target(posixpath.dirname(base), parts[-1])
        if files.is_dir(base):
            return Target(base, None)
    return None


def relative_target(folder: str, level: int, module: str | None) -> str | None:
    """The folder a relative import's dots name (level 1: the importing folder), None above the repository."""
    parts = folder.split("/") if folder else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return "/".join([*base, *(module.split(".") if module else [])])


def _targets_of(node: ast.stmt, folder: str, files: Files, roots: list[Root]) -> Iterator[tuple[Target, str | None]]:
    """(target, the absolute name that reached it) of one import statement: None for a relative one."""
    if isinstance(node, ast.ImportFrom) and node.level > 0:
        base = relative_target(folder, node.level, node.module)
        if base is None:
            return
        if files.is_file(f"{base}.py"):
            yield Target(posixpath.dirname(base), posixpath.basename(base)), None
        elif files.is_dir(base):
            yield Target(base, None), None
            for alias in node.names:
                if files.is_file(posixpath.join(base, f"{alias.name}.py")):
                    yield Target(base, alias.name), None
        return
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
    if isinstance(node, ast.ImportFrom) and node.module:
        names = [node.module, *(f"{node.module}.{a.name}" for a in node.names if a.name != "*")]
    for name in names:
        found = find(files, roots, name)
        if found is not None:
            package = name if found.module is None else name.rpartition(".")[0]
            yield found, package


@dataclass
class _Folder:
    names: dict[str, None]  # insertion-ordered set
    modules: dict[str, str]


def resolve(
    files: Files, store: Location, collector: Location
) -> tuple[tuple[Package, ...], tuple[Root, ...], tuple[str, ...]]:
    """The store's and the collector's folders whole, and every module their imports reach at this revision."""
    notes: list[str] = []
    roots = configured_roots(files, notes)
    folders: dict[str, _Folder] = {}
    trees: dict[tuple[str, str], ast.Module | None] = {}  # each module parsed once
    pending: list[tuple[str, str]] = []

    def add(folder: str, module: str | None, name: str | None) -> None:
        entry = folders.setdefault(folder, _Folder({}, {}))
        if name is not None:
            entry.names[name] = None
        if module is not None and module != "__init__" and module not in entry.modules:
            path = posixpath.join(folder, f"{module}.py")
            if files.is_file(path):
                entry.modules[module] = files.read(path)
                trees[folder, module] = _parse(entry.modules[module], path)
                pending.append((folder, module))

    for location in (store, collector):
        for path in files.python_files(location.folder):
            add(location.folder, posixpath.basename(path)[: -len(".py")], None)
    seeds = list(folders)
    for key in pending:
        tree = trees[key]
        for root in implied_roots(seeds, tree, files) if tree else ():
            if root.path not in {known.path for known in roots}:
                roots.append(root)
    while pending:
        folder, module = pending.pop(0)
        tree = trees[folder, module]
        for node in ast.walk(tree) if tree else ():
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target, name in _targets_of(node, folder, files, roots):
                    add(target.folder, target.module, name)
    for location in (store, collector):  # a name for a folder no absolute import reached: its place under a root
        entry = folders.get(location.folder)
        under = [r for r in roots if r.path == "" or location.folder.startswith(f"{r.path}/")]
        if entry is not None and not entry.names and under and location.folder != under[0].path:
            relative = posixpath.relpath(location.folder, under[0].path) if under[0].path else location.folder
            entry.names[relative.replace("/", ".")] = None
    order = list(dict.fromkeys([store.folder, collector.folder, *sorted(folders)]))
    packages = tuple(
        Package(f, tuple(folders[f].names), tuple(sorted(folders[f].modules.items()))) for f in order if f in folders
    )
    return packages, tuple(roots), tuple(notes)


# --- a store at a revision, or in the work tree -------------------------------------------------------------


def at(repo: Path, rev: str, store: Location, collector: Location | None = None) -> Snapshot:
    """The store (and its collector) at `rev`, read with git; a RevisionError if either is not there."""
    collector = collector or sibling_collector(store)
    commit = git.commit_of(repo, rev)
    if commit is None:
        raise RevisionError(f"revision {rev!r} does not name a commit in {repo}")
    files = CommitFiles(repo, commit)
    if not files.is_file(store.path):
        raise RevisionError(f"revision {rev!r} ({commit[:12]}) has no {store.path}")
    packages, roots, notes = resolve(files, store, collector)
    return Snapshot(rev, commit, store, collector, packages, roots=roots, notes=notes)


def work_tree(repo: Path, store: Location, collector: Location | None = None) -> Snapshot:
    """The store (and its collector) as the files under repo are now."""
    collector = collector or sibling_collector(store)
    files = WorkTreeFiles(repo)
    if not files.is_file(store.path):
        raise UsageError(f"no {store.path} in {repo}")
    packages, roots, notes = resolve(files, store, collector)
    return Snapshot(
        "working tree", digest(packages), store, collector, packages, in_work_tree=True, roots=roots, notes=notes
    )


def registered(candidate: str, repo: Path) -> Snapshot | None:
    """A registered store of `repo`'s storage/ package (a name such as "optimized") as the working tree's files, loaded
    by the same loader as a revision's; None for any other candidate.

    Both sides of a comparison then go through one loader: the same code imported the usual way and loaded from
    files timed about 1% apart in the saves (bench/runners/interleaved.py's A/A) and counted up to 50% apart.
    """
    if candidate not in storage.CANDIDATES:
        return None
    store_class = cast(type, storage.CANDIDATES[candidate])  # a registered store is a class
    package, _, module = store_class.__module__.rpartition(".")
    if package != DEFAULT_FOLDER:
        return None
    return work_tree(repo, Location(f"{DEFAULT_FOLDER}/{module}.py", store_class.__name__))
