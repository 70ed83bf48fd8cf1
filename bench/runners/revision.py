"""The store package `storage/` as it was at a git revision, imported beside the working tree's.

The gate times the store at a reference commit and the working tree's store in the same worker
processes, so both must be importable at once. The revision's modules are read with `git show`
(the work tree is never touched, nothing is written into the repository) and imported under a
package name of their own, storage_at_<12 hex digits of the commit>, by a finder on sys.meta_path.
Older commits import their siblings absolutely (`from storage.latency import ...`), newer ones
relatively (`from .latency import ...`): absolute imports of `storage` are rewritten to relative
ones before compiling, so a revision's store never reaches into the working tree's package.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.abc
import importlib.util
import json
import linecache
import subprocess
import sys
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import storage
from bench.errors import RevisionError

PACKAGE: Final = "storage"
DEFAULT_STORE: Final = "optimized:MetricsStorage"  # module of the package : class


@dataclass(frozen=True)
class Snapshot:
    """The package's modules at one commit, as source text: what a worker process needs to import it."""

    rev: str  # as the user named it
    # The full hash it resolved to; for the working tree or an altered copy, a digest of the sources,
    # as long: package names of one length keep instruction counts of the same code equal.
    commit: str
    sources: tuple[tuple[str, str], ...]  # (module name within the package, "__init__" included; source)
    variant: str = ""  # what was altered, on a copy whose sources were (a planted regression)

    @property
    def package(self) -> str:
        return f"{PACKAGE}_at_{self.commit[:12]}"

    def with_source(self, module: str, source: str, variant: str) -> Snapshot:
        """A copy with one module's source replaced, importable beside the original under a name as long."""
        if module not in self.modules():
            raise RevisionError(f"{self.label} has no module {module!r} to replace")
        sources = tuple((name, source if name == module else text) for name, text in self.sources)
        return Snapshot(self.rev, _digest(sources), sources, variant)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        document = json.loads(text)
        return cls(document["rev"], document["commit"], tuple(map(tuple, document["sources"])), document["variant"])

    @property
    def label(self) -> str:
        short = self.commit[:12]
        if self.variant:
            return f"{self.rev}+{self.variant} ({short})"
        return short if self.rev in (self.commit, short) else f"{self.rev} ({short})"

    def modules(self) -> dict[str, str]:
        return dict(self.sources)

    def spec(self, store: str = DEFAULT_STORE) -> str:
        """The storage.resolve() name of `store` ("module:Class") at this revision, once install()ed."""
        module, _, class_name = store.partition(":")
        return f"{self.package}.{module}:{class_name}"

    def filename(self, module: str) -> str:
        """What tracebacks show for a module: the commit and the path in the repository."""
        path = f"{PACKAGE}/__init__.py" if module == "__init__" else f"{PACKAGE}/{module}.py"
        return f"git:{self.commit[:12]}:{path}"


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)


def working_repository() -> Path:
    """The git work tree that holds the imported `storage` package: revisions name commits of its history."""
    package_dir = Path(storage.__file__).resolve().parent
    found = _git(package_dir, "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise RevisionError(f"{package_dir} is not in a git work tree: {found.stderr.strip()}")
    return Path(found.stdout.strip())


def working_tree_snapshot() -> Snapshot:
    """The imported `storage` package's own files, loaded the way a revision is: for counts that compare alike.

    Its "commit" is a digest of the sources, as long as a commit hash, so both sides' package names,
    loaders and compiled code match in everything but the change (instruction counts hang on all three).
    """
    package_dir = Path(storage.__file__).resolve().parent
    sources = tuple(sorted((path.stem, path.read_text()) for path in package_dir.glob("*.py")))
    return Snapshot("working tree", _digest(sources), sources)


def _digest(sources: tuple[tuple[str, str], ...]) -> str:
    return hashlib.sha1(repr(sources).encode(), usedforsecurity=False).hexdigest()


def snapshot(rev: str, repo: Path | None = None) -> Snapshot:
    """Reads storage/*.py at `rev` from git; a RevisionError naming `rev` if it has no such package."""
    repo = working_repository() if repo is None else repo
    resolved = _git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")
    if resolved.returncode != 0:
        raise RevisionError(f"revision {rev!r} does not name a commit in {repo}")
    commit = resolved.stdout.strip()
    listing = _git(repo, "ls-tree", "-z", "--name-only", commit, f"{PACKAGE}/")
    if listing.returncode != 0:
        raise RevisionError(f"revision {rev!r}: git ls-tree failed: {listing.stderr.strip()}")
    paths = [p for p in listing.stdout.split("\0") if p.endswith(".py")]
    modules = {Path(p).stem: p for p in paths}
    store_module = DEFAULT_STORE.partition(":")[0]
    for required in ("__init__", store_module):
        if required not in modules:
            raise RevisionError(f"revision {rev!r} ({commit[:12]}) has no {PACKAGE}/{required}.py")
    sources = []
    for module, path in sorted(modules.items()):
        shown = _git(repo, "show", f"{commit}:{path}")
        if shown.returncode != 0:
            raise RevisionError(f"revision {rev!r}: cannot read {path}: {shown.stderr.strip()}")
        sources.append((module, shown.stdout))
    return Snapshot(rev, commit, tuple(sources))


def relative_imports(source: str, filename: str) -> ast.Module:
    """The module's syntax tree with `from storage[.x] import ...` made relative to its own package."""
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            if node.module == PACKAGE or node.module.startswith(f"{PACKAGE}."):
                node.module = node.module[len(PACKAGE) + 1 :] or None
                node.level = 1
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PACKAGE or alias.name.startswith(f"{PACKAGE}."):
                    # `import storage.x` binds the top-level name: no relative form keeps its meaning.
                    raise RevisionError(
                        f"{filename}:{node.lineno}: `import {alias.name}` would load the working tree's package; "
                        f"only `from {PACKAGE}... import` can be loaded at a revision"
                    )
    return tree


class _Loader(importlib.abc.Loader):
    def __init__(self, snapshot: Snapshot, module: str) -> None:
        self._snapshot = snapshot
        self._module = module

    def create_module(self, spec: Any) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        source = self._snapshot.modules()[self._module]
        filename = self._snapshot.filename(self._module)
        # Tracebacks through the revision's code show its lines (mtime None: never re-read from disk).
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = compile(relative_imports(source, filename), filename, "exec", dont_inherit=True)
        exec(code, module.__dict__)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds storage_at_<commit> and its modules, and nothing else."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        package = self.snapshot.package
        if fullname == package:
            module = "__init__"
        elif fullname.startswith(f"{package}.") and fullname[len(package) + 1 :] in self.snapshot.modules():
            module = fullname[len(package) + 1 :]
        else:
            return None
        loader = _Loader(self.snapshot, module)
        origin = self.snapshot.filename(module)
        return importlib.util.spec_from_loader(fullname, loader, origin=origin, is_package=module == "__init__")


def install(snapshot: Snapshot) -> None:
    """Makes the revision's package importable in this process (again: a no-op)."""
    for finder in sys.meta_path:
        if isinstance(finder, _Finder) and finder.snapshot.package == snapshot.package:
            return
    sys.meta_path.insert(0, _Finder(snapshot))


def load(snapshot: Snapshot, store: str = DEFAULT_STORE) -> tuple[Any, type]:
    """(store class, the collector class it expects) at the revision; a RevisionError naming it if either fails."""
    install(snapshot)
    spec = snapshot.spec(store)
    try:
        store_class = storage.resolve(spec)
    except storage.UnknownCandidate as e:
        cause = e.__cause__ if e.__cause__ is not None else e
        raise RevisionError(f"the store at {snapshot.label} cannot be imported: {_where(cause)}") from e
    except Exception as e:  # the revision's own code raised on import: the revision is unusable, named
        raise RevisionError(f"the store at {snapshot.label} cannot be imported: {_where(e)}") from e
    return store_class, storage.collector_class_for(store_class)


def _where(error: BaseException) -> str:
    frames = traceback.extract_tb(error.__traceback__)
    at = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {error}{at}"


def store_class_at(rev: str, repo: Path | None = None, store: str = DEFAULT_STORE) -> Any:
    """The store class (default optimized.MetricsStorage) as it was at `rev`."""
    return load(snapshot(rev, repo), store)[0]


def collector_class_at(rev: str, repo: Path | None = None, store: str = DEFAULT_STORE) -> type:
    """The LatencyCollector class the store at `rev` is written against (its own package's)."""
    return load(snapshot(rev, repo), store)[1]
