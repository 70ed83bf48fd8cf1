"""A store module and the files beside it, read at a git revision or from a work tree, and imported under a
package name of its own: stores of several commits live side by side in one process.

`PATH[:Class]` names a store by its module's path from the repository's root (`storage/optimized.py`, or
the application's `src/astraguard/hil/metrics/storage.py`) and its class (default MetricsStorage). Its
collector is `LatencyCollector` of the `latency.py` beside it at the same revision, unless another
`PATH[:Class]` is given. Every `*.py` of the store's folder (and of the collector's, if elsewhere) is read
with `git show` (the work tree is never touched) and imported by a finder on sys.meta_path as
`storage_at_<12 hex digits>.<module>`:

- absolute imports of the folder's own package (`from astraguard.hil.metrics.latency import ...`, or
  `from storage.latency import ...` in this repository's older commits) are rewritten to the loaded copy,
  so a revision's store never reaches the installed application or the working tree's package;
- the package's own `__init__.py` is never run (the application's imports numpy, and more);
- a store that cannot serve (it does not compile or import, lacks its class or a method, is async, changed
  a signature the application calls, or fails a small probe of the four operations) raises StoreUnusable
  with a one-line reason that names the file and line at that commit.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib
import importlib.abc
import importlib.util
import inspect
import io
import json
import linecache
import posixpath
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import storage
import storage.baseline
from bench.errors import RevisionError, StoreUnusable, UsageError
from bench.model import git
from bench.model.fixtures import build_collector

DEFAULT_STORE: Final = "storage/optimized.py"  # this repository's; the application's is named with --store
DEFAULT_FOLDER: Final = posixpath.dirname(DEFAULT_STORE)
DEFAULT_CLASS: Final = "MetricsStorage"
COLLECTOR_FILE: Final = "latency.py"  # beside the store, unless --collector names another
COLLECTOR_CLASS: Final = "LatencyCollector"
PREFIX: Final = "storage_at_"
SPEC_PREFIX: Final = "snapshot:"  # a candidate spec naming a snapshot's JSON file, for another process
METHODS: Final = ("save_latency_stats", "get_run_metrics", "compare_runs", "get_recent_runs")
PROBE_MEASUREMENTS: Final = 12


@dataclass(frozen=True)
class Location:
    """A class in a module, by the module's path from the repository's root: `PATH[:Class]`."""

    path: str
    name: str

    @classmethod
    def parse(cls, text: str, default_class: str, what: str = "--store") -> Location:
        """PATH[:Class]; a UsageError for a path that is not a relative `.py` file inside the repository."""
        path, colon, name = text.rpartition(":")
        if not colon or not name.isidentifier():
            path, name = text, default_class
        clean = posixpath.normpath(path.replace("\\", "/")) if path else ""
        if not clean.endswith(".py") or clean.startswith(("/", "../")) or clean == "..":
            raise UsageError(
                f"{what} {text!r}: want PATH[:Class], PATH a module's .py file from the repository's root "
                f"(e.g. {DEFAULT_STORE}:{DEFAULT_CLASS})"
            )
        return cls(clean, name)

    @property
    def folder(self) -> str:
        return posixpath.dirname(self.path)

    @property
    def module(self) -> str:
        return posixpath.basename(self.path)[: -len(".py")]

    def __str__(self) -> str:
        return f"{self.path}:{self.name}"


def sibling_collector(store: Location) -> Location:
    """The default collector: LatencyCollector of the latency.py beside the store."""
    return Location(posixpath.join(store.folder, COLLECTOR_FILE), COLLECTOR_CLASS)


@dataclass(frozen=True)
class Package:
    """One folder's modules as source text, and the folder's import name in its own repository."""

    folder: str  # from the repository's root; "" is the root
    dotted: str  # e.g. "astraguard.hil.metrics"; "" when the folder is no package (no __init__.py)
    sources: tuple[tuple[str, str], ...]  # (module, source) of every *.py directly in it but __init__.py


@dataclass(frozen=True)
class Snapshot:
    """A store and its collector at one commit (or in a work tree): what a worker process needs to import them."""

    rev: str  # as the user named it
    # The full hash it resolved to; for a work tree or an altered copy, a digest of the sources, as long:
    # package names of one length keep instruction counts of the same code equal.
    commit: str
    store: Location
    collector: Location
    packages: tuple[Package, ...]  # the store's folder first, then the collector's if it is another
    variant: str = ""  # what was altered, on a copy whose sources were (a planted regression)
    in_work_tree: bool = False

    def package_name(self, package: Package) -> str:
        key = hashlib.sha1(f"{self.commit}\0{package.folder}".encode(), usedforsecurity=False).hexdigest()
        return f"{PREFIX}{key[:12]}"

    @property
    def package(self) -> str:
        """The store's package as this process imports it."""
        return self.package_name(self.packages[0])

    def _loaded_name(self, location: Location) -> str:
        package = next(p for p in self.packages if p.folder == location.folder)
        return f"{self.package_name(package)}.{location.module}"

    def spec(self) -> str:
        """The storage.resolve() name of the store ("module:Class"), once install()ed."""
        return f"{self._loaded_name(self.store)}:{self.store.name}"

    @property
    def label(self) -> str:
        short = self.commit[:12]
        if self.in_work_tree:
            return "working tree" + (f"+{self.variant}" if self.variant else "")
        if self.variant:
            return f"{self.rev}+{self.variant} ({short})"
        return short if self.rev in (self.commit, short) else f"{self.rev} ({short})"

    def modules(self) -> dict[str, str]:
        """The store's folder's modules by name."""
        return dict(self.packages[0].sources)

    def with_source(self, module: str, source: str, variant: str) -> Snapshot:
        """A copy with one module of the store's folder replaced, importable beside the original."""
        if module not in self.modules():
            raise RevisionError(f"{self.label} has no module {module!r} to replace")
        first = self.packages[0]
        sources = tuple((name, source if name == module else text) for name, text in first.sources)
        packages = (replace(first, sources=sources), *self.packages[1:])
        return replace(self, commit=_digest(packages), packages=packages, variant=variant)

    def filename(self, package: Package, module: str) -> str:
        """What tracebacks and reasons show for a module: its path, and the commit it was read at."""
        path = posixpath.join(package.folder, f"{module}.py")
        return path if self.in_work_tree else f"git:{self.commit[:12]}:{path}"

    def to_json(self) -> str:
        document = {
            "rev": self.rev,
            "commit": self.commit,
            "store": [self.store.path, self.store.name],
            "collector": [self.collector.path, self.collector.name],
            "packages": [[p.folder, p.dotted, [list(s) for s in p.sources]] for p in self.packages],
            "variant": self.variant,
            "in_work_tree": self.in_work_tree,
        }
        return json.dumps(document)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        d = json.loads(text)
        packages = tuple(
            Package(folder, dotted, tuple(map(tuple, sources))) for folder, dotted, sources in d["packages"]
        )
        return cls(
            d["rev"],
            d["commit"],
            Location(*d["store"]),
            Location(*d["collector"]),
            packages,
            d["variant"],
            d["in_work_tree"],
        )


def _digest(packages: tuple[Package, ...]) -> str:
    return hashlib.sha1(repr(packages).encode(), usedforsecurity=False).hexdigest()


def _init_files(folder: str) -> list[str]:
    """The __init__.py of the folder and of every folder above it, nearest first."""
    parts = folder.split("/") if folder else []
    return [posixpath.join(*parts[:depth], "__init__.py") for depth in range(len(parts), 0, -1)]


def _dotted(folder: str, has: Callable[[str], bool]) -> str:
    """The folder's import name: the folders above it, up to the first without an __init__.py."""
    parts = folder.split("/") if folder else []
    depth = 0
    for init in _init_files(folder):
        if not has(init):
            break
        depth += 1
    return ".".join(parts[len(parts) - depth :])


def _folders(store: Location, collector: Location) -> list[str]:
    return list(dict.fromkeys([store.folder, collector.folder]))


def at(repo: Path, rev: str, store: Location, collector: Location | None = None) -> Snapshot:
    """The store's folder (and the collector's) at `rev`, read with git; a RevisionError if either is not there."""
    collector = collector or sibling_collector(store)
    commit = git.commit_of(repo, rev)
    if commit is None:
        raise RevisionError(f"revision {rev!r} does not name a commit in {repo}")
    if store.path not in git.files_at(repo, commit, [store.path]):
        raise RevisionError(f"revision {rev!r} ({commit[:12]}) has no {store.path}")
    packages = []
    for folder in _folders(store, collector):
        inits = git.files_at(repo, commit, _init_files(folder))
        files = [path for path in git.folder_at(repo, commit, folder) if path.endswith(".py")]
        modules = sorted(path for path in files if posixpath.basename(path) != "__init__.py")
        sources = tuple((posixpath.basename(path)[: -len(".py")], git.show(repo, commit, path)) for path in modules)
        packages.append(Package(folder, _dotted(folder, inits.__contains__), sources))
    return Snapshot(rev, commit, store, collector, tuple(packages))


def work_tree(repo: Path, store: Location, collector: Location | None = None) -> Snapshot:
    """The store's folder (and the collector's) as the files under repo are now: the side a change is judged on."""
    collector = collector or sibling_collector(store)
    if not (repo / store.path).is_file():
        raise UsageError(f"no {store.path} in {repo}")
    packages = []
    for folder in _folders(store, collector):
        where = repo / folder
        modules = sorted(path for path in where.glob("*.py") if path.name != "__init__.py")
        sources = tuple((path.stem, path.read_text(encoding="utf-8")) for path in modules)
        packages.append(Package(folder, _dotted(folder, lambda init: (repo / init).is_file()), sources))
    packages_tuple = tuple(packages)
    return Snapshot("working tree", _digest(packages_tuple), store, collector, packages_tuple, in_work_tree=True)


# --- importing ---------------------------------------------------------------------------------------


def _renamed(name: str, renames: dict[str, str]) -> str | None:
    for real in sorted(renames, key=len, reverse=True):
        if name == real or name.startswith(f"{real}."):
            return renames[real] + name[len(real) :]
    return None


def rewrite_imports(source: str, filename: str, renames: dict[str, str]) -> ast.Module:
    """The module's syntax tree with absolute imports of the loaded folders' own names pointed at the loaded copy.

    `import a.b.latency` binds the application's top-level `a`: no rewriting keeps its meaning, so it is an
    ImportError (the commit cannot be loaded beside the others), as is any relative import leaving the folder.
    """
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            node.module = _renamed(node.module, renames) or node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                loaded = _renamed(alias.name, renames)
                if loaded is None:
                    continue
                if "." in alias.name and alias.asname is None:
                    raise ImportError(
                        f"`import {alias.name}` at {filename}:{node.lineno} binds the application's top-level "
                        "package: only `from ... import` or `import ... as` can be loaded at a revision"
                    )
                alias.asname = alias.asname or alias.name
                alias.name = loaded
    return tree


class _Loader(importlib.abc.Loader):
    def __init__(self, snapshot: Snapshot, package: Package, module: str | None) -> None:
        self._snapshot = snapshot
        self._package = package
        self._module = module  # None: the package itself, whose __init__.py is never run

    def create_module(self, spec: Any) -> None:
        return None  # the default module object

    def exec_module(self, module: ModuleType) -> None:
        if self._module is None:
            return
        source = dict(self._package.sources)[self._module]
        filename = self._snapshot.filename(self._package, self._module)
        # Tracebacks through the revision's code show its lines (mtime None: never re-read from disk).
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        renames = {}
        for package in self._snapshot.packages:
            loaded = self._snapshot.package_name(package)
            if package.dotted:
                renames[package.dotted] = loaded
            else:  # a folder that is no package: its modules import one another by their bare names
                renames.update({name: f"{loaded}.{name}" for name, _ in package.sources})
        tree = rewrite_imports(source, filename, renames)
        exec(compile(tree, filename, "exec", dont_inherit=True), module.__dict__)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds the snapshot's packages and their modules, and nothing else."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._names: dict[str, tuple[Package, str | None]] = {}
        for package in snapshot.packages:
            loaded = snapshot.package_name(package)
            self._names[loaded] = (package, None)
            self._names.update({f"{loaded}.{name}": (package, name) for name, _ in package.sources})

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        found = self._names.get(fullname)
        if found is None:
            return None
        package, module = found
        origin = self.snapshot.filename(package, module or "__init__")
        loader = _Loader(self.snapshot, package, module)
        return importlib.util.spec_from_loader(fullname, loader, origin=origin, is_package=module is None)


def install(snapshot: Snapshot) -> None:
    """Makes the snapshot's packages importable in this process (again: a no-op)."""
    for finder in sys.meta_path:
        same = isinstance(finder, _Finder) and (finder.snapshot.commit, finder.snapshot.packages) == (
            snapshot.commit,
            snapshot.packages,
        )
        if same:
            return
    sys.meta_path.insert(0, _Finder(snapshot))


def _where(error: BaseException, snapshot: Snapshot) -> str:
    """`Type: message (path:line at commit)`: the innermost line of the snapshot's own files it reached."""
    if isinstance(error, SyntaxError) and error.filename:
        place = f"{error.filename.rpartition(':')[2] or error.filename}:{error.lineno}"
        return f"SyntaxError: {error.msg} ({place}{_at(snapshot)})"
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if f.filename.endswith(".py") and not f.filename.startswith("<")]
    own = [f for f in ours if _is_snapshot_file(f.filename)] or ours or frames
    at_line = ""
    if own:
        frame = own[-1]
        path = frame.filename.rpartition(":")[2] if _is_snapshot_file(frame.filename) else frame.filename
        at_line = f" ({path}:{frame.lineno}{_at(snapshot) if _is_snapshot_file(frame.filename) else ''})"
    message = str(error).splitlines()[0] if str(error) else ""
    for package in snapshot.packages:  # the application's names, not the loaded copy's
        message = message.replace(snapshot.package_name(package), package.dotted or package.folder or ".")
    return f"{type(error).__name__}: {message}{at_line}"


def _is_snapshot_file(filename: str) -> bool:
    return filename.startswith("git:") or not Path(filename).is_absolute()


def _at(snapshot: Snapshot) -> str:
    return "" if snapshot.in_work_tree else f" at {snapshot.commit[:12]}"


def _import(snapshot: Snapshot, location: Location, what: str) -> Any:
    """The class at location, imported from the snapshot; StoreUnusable when it cannot be."""
    module_name = snapshot._loaded_name(location)
    if location.module not in dict(next(p for p in snapshot.packages if p.folder == location.folder).sources):
        raise StoreUnusable(f"{what}: no {location.path}{_at(snapshot)}")
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as e:  # the revision's own code failed: the commit cannot serve, and says why
        raise StoreUnusable(f"{what} cannot be imported: {_where(e, snapshot)}") from e
    found = getattr(module, location.name, None)
    if not isinstance(found, type):
        raise StoreUnusable(f"{what}: {location.path} has no class {location.name}{_at(snapshot)}")
    return found


# --- the contract: what the application calls, as the frozen original takes it -------------------------


def _kind(cls: type, name: str) -> str | None:
    try:
        attribute = inspect.getattr_static(cls, name)
    except AttributeError:
        return None
    if isinstance(attribute, staticmethod):
        return "static"
    if isinstance(attribute, classmethod):
        return "class"
    return "instance"


def _as_called(cls: type, name: str) -> tuple[Any, inspect.Signature]:
    """The function and the signature a caller sees: without self for instance methods and classmethods."""
    attribute = inspect.getattr_static(cls, name)
    function = attribute.__func__ if isinstance(attribute, staticmethod | classmethod) else attribute
    signature = inspect.signature(function)
    if not isinstance(attribute, staticmethod):
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return function, signature


def _calls(signature: inspect.Signature) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every way the original's signature is called: required ones by position, then each optional by position
    and by keyword, and all by keyword."""
    parameters = [p for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    required = [p.name for p in parameters if p.default is p.empty]
    optional = [p.name for p in parameters if p.default is not p.empty]
    yield tuple(required), {}
    yield tuple(required + optional), {}
    yield (), {name: name for name in required + optional}
    for name in optional:
        yield tuple(required), {name: name}


def _call_text(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    return f"{name}({', '.join([*args, *(f'{k}={k}' for k in kwargs)])})"


def check_contract(store_class: type, what: str) -> None:
    """StoreUnusable unless the class takes every call the original takes: same methods, none async, same kinds."""
    original = storage.baseline.MetricsStorage
    constructor = inspect.signature(store_class)
    for args, kwargs in _calls(inspect.signature(original)):
        try:
            constructor.bind(*args, **kwargs)
        except TypeError:
            shown = _call_text(store_class.__name__, args, kwargs)
            signature = f"{store_class.__name__}{constructor}"
            raise StoreUnusable(f"{what}: changed signature: {signature} cannot be called as {shown}") from None
    for name in METHODS:
        kind = _kind(store_class, name)
        if kind is None or not callable(getattr(store_class, name, None)):
            raise StoreUnusable(f"{what}: {store_class.__name__} has no method {name}")
        function, signature = _as_called(store_class, name)
        if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
            raise StoreUnusable(
                f"{what}: {store_class.__name__}.{name} is a coroutine function (async def): "
                "the application's callers get a coroutine, not its answer"
            )
        if _kind(original, name) in ("static", "class") and kind == "instance":
            raise StoreUnusable(
                f"{what}: {store_class.__name__}.{name} became an instance method; the application calls it on "
                "the class"
            )
        for args, kwargs in _calls(_as_called(original, name)[1]):
            try:
                signature.bind(*args, **kwargs)
            except TypeError:
                shown = _call_text(name, args, kwargs)
                raise StoreUnusable(
                    f"{what}: changed signature: {name}{signature} cannot be called as {shown}"
                ) from None


def _answer(value: Any, method: str, what: str) -> Any:
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never awaited, and never warned about
        raise StoreUnusable(f"{what}: {method} returned a coroutine, not its answer")
    return value


def probe(store_class: type, collector_class: type, what: str, snapshot: Snapshot) -> None:
    """Each operation once, on a small run in a scratch folder: StoreUnusable if one raises or returns a coroutine.

    What it prints is dropped: the equivalence checks compare output, this only asks whether the store serves.
    """
    step = "the collector"
    with (
        tempfile.TemporaryDirectory(prefix="bench-probe-") as scratch,
        contextlib.chdir(scratch),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        try:
            collector = build_collector(PROBE_MEASUREMENTS, 0, collector_class)
            step = "the constructor"
            store = store_class("probe", results_dir="results")
            for step, call in (
                ("save_latency_stats", lambda: store.save_latency_stats(collector)),
                ("get_run_metrics", store.get_run_metrics),
                ("compare_runs", lambda: store.compare_runs("probe")),
                ("get_recent_runs", lambda: store_class.get_recent_runs("results", 10)),
            ):
                _answer(call(), step, what)
        except StoreUnusable:
            raise
        except Exception as e:  # the store failed where the original answers: the commit cannot serve
            raise StoreUnusable(f"{what}: {step} raised {_where(e, snapshot)}") from e


def load(snapshot: Snapshot, *, probed: bool = False) -> tuple[Any, type]:
    """(store class, collector class) of the snapshot, the collector registered for the store (collector_class_for).

    StoreUnusable, with the reason, if the store cannot serve; probed=True also calls each operation once.
    """
    install(snapshot)
    where = "the working tree's" if snapshot.in_work_tree else f"{snapshot.label}:"
    what = f"{where} {snapshot.store.path}"
    store_class = _import(snapshot, snapshot.store, what)
    collector_class = _import(snapshot, snapshot.collector, f"{where} {snapshot.collector.path}")
    check_contract(store_class, what)
    storage.COLLECTORS[store_class] = collector_class
    if probed:
        probe(store_class, collector_class, what, snapshot)
    return store_class, collector_class


# --- a snapshot named in another process -------------------------------------------------------------


@contextlib.contextmanager
def written(snapshot: Snapshot) -> Iterator[str]:
    """A `snapshot:FILE` candidate spec for the snapshot's store, valid inside the block."""
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as scratch:
        path = Path(scratch, "snapshot.json")
        path.write_text(snapshot.to_json())
        yield f"{SPEC_PREFIX}{path}"


def read_spec(spec: str) -> Snapshot:
    """The snapshot a `snapshot:FILE` spec names; a UsageError if the file is not one."""
    path = Path(spec.removeprefix(SPEC_PREFIX))
    try:
        return Snapshot.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"candidate {spec!r}: {path} is not a readable snapshot ({e})") from e


def short_label(snapshot: Snapshot) -> str:
    """A name for tables and file names: the store's import name and class (e.g. astraguard.hil.metrics.storage
    .MetricsStorage)."""
    dotted = snapshot.packages[0].dotted
    return ".".join(part for part in (dotted, snapshot.store.module, snapshot.store.name) if part)
