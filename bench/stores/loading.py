"""Importing a snapshot's store beside every other, and judging whether it can serve.

A finder on sys.meta_path imports each snapshot's folders as `storage_at_<12 hex digits>.<module>`; every import
that bench.stores.revision resolved to one of them, in any form, is rewritten to the loaded copy, and no package's
`__init__.py` runs.
A store can serve when it compiles and imports, has its class and the frozen original's four methods, none a
coroutine function, each taking every call the original takes, and one call of each operation on a small run
answers without raising or returning a coroutine. Otherwise StoreUnusable says why in one line, naming the
file and line at that commit.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.abc
import importlib.util
import inspect
import io
import linecache
import posixpath
import sys
import tempfile
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import storage
import storage.baseline
from bench.errors import StoreUnusable
from bench.model.fixtures import build_collector
from bench.model.location import Location
from bench.stores import revision
from bench.stores.snapshot import Package, Snapshot

METHODS: Final = ("save_latency_stats", "get_run_metrics", "compare_runs", "get_recent_runs")
PROBE_MEASUREMENTS: Final = 12


# --- importing ---------------------------------------------------------------------------------------


BIND: Final = "__bench_bind__"  # injected into each loaded module: `import a.b.c` binds a namespace of its own


class _Namespace(ModuleType):
    """What `import a.b.c` binds `a` to in a loaded module: the path down to the loaded copy, and nothing else."""


def _bind(existing: Any, dotted: str, loaded: str) -> ModuleType:
    parts = dotted.split(".")
    top = existing if isinstance(existing, _Namespace) else _Namespace(parts[0])
    node: ModuleType = top
    for depth, part in enumerate(parts[1:-1], start=2):
        child = getattr(node, part, None)
        if not isinstance(child, ModuleType):
            child = _Namespace(".".join(parts[:depth]))
            setattr(node, part, child)
        node = child
    setattr(node, parts[-1], importlib.import_module(loaded))
    return top


class _Rewriter(ast.NodeTransformer):
    """Points a module's imports of the snapshot's folders at their loaded copies, every form alike.

    Absolute names are the ones the revision's imports reached each folder by (bench.stores.revision); relative
    ones are resolved by path, so `from ..config import x` and `from .sub import y` load the revision's files too.
    """

    def __init__(self, snapshot: Snapshot, package: Package) -> None:
        self._package = package
        self._renames: dict[str, str] = {}
        self._folders: dict[str, tuple[str, set[str]]] = {}
        for other in snapshot.packages:
            loaded = snapshot.package_name(other)
            modules = {name for name, _ in other.sources}
            self._folders[other.folder] = (loaded, modules)
            for name in other.names:
                if name:
                    self._renames[name] = loaded
                else:  # the folder is a root: its modules are imported by their bare names
                    self._renames.update({module: f"{loaded}.{module}" for module in modules})

    def renamed(self, name: str) -> str | None:
        for real in sorted(self._renames, key=len, reverse=True):
            if name == real or name.startswith(f"{real}."):
                return self._renames[real] + name[len(real) :]
        return None

    def _relative(self, level: int, module: str | None) -> str | None:
        base = revision.relative_target(self._package.folder, level, module)
        if base is None:
            return None
        if base in self._folders:
            return self._folders[base][0]
        parent, name = posixpath.split(base)
        loaded, modules = self._folders.get(parent, ("", set()))
        return f"{loaded}.{name}" if name in modules else None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom:
        if node.level > 0:
            found = self._relative(node.level, node.module)
            if found is not None:
                node.module, node.level = found, 0
        elif node.module is not None:
            node.module = self.renamed(node.module) or node.module
        return node

    def visit_Import(self, node: ast.Import) -> list[ast.stmt]:
        kept, bound = [], []
        for alias in node.names:
            loaded = self.renamed(alias.name)
            if loaded is None:
                kept.append(alias)
            elif alias.asname is not None or "." not in alias.name:
                kept.append(ast.alias(loaded, alias.asname or alias.name))
            else:
                top = alias.name.partition(".")[0]
                bound.append(ast.parse(f"{top} = {BIND}(vars().get({top!r}), {alias.name!r}, {loaded!r})").body[0])
        statements = ([ast.Import(kept)] if kept else []) + bound
        for statement in statements:
            ast.copy_location(statement, node)
            ast.fix_missing_locations(statement)
        return statements


def rewrite_imports(source: str, filename: str, snapshot: Snapshot, package: Package) -> ast.Module:
    """The module's syntax tree with its imports of the snapshot's folders pointed at the loaded copies."""
    return _Rewriter(snapshot, package).visit(ast.parse(source, filename))


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
        tree = rewrite_imports(source, filename, self._snapshot, self._package)
        module.__dict__[BIND] = _bind
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


def _at(snapshot: Snapshot) -> str:
    return "" if snapshot.in_work_tree else f" at {snapshot.commit[:12]}"


def _is_snapshot_file(filename: str) -> bool:
    return filename.startswith("git:") or not Path(filename).is_absolute()


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
    found = f"{type(error).__name__}: {message}{at_line}"
    if isinstance(error, ModuleNotFoundError) and own:
        found += f": {_not_found(own[-1].line, snapshot)}"
    return found


def _not_found(statement: str | None, snapshot: Snapshot) -> str:
    """Where an import that failed was looked for: the revision's import roots, then the installed packages."""
    roots = "; ".join(map(str, snapshot.roots)) or "none (no setting names one, and no import implies one)"
    notes = "".join(f"; {note}" for note in snapshot.notes)
    return f"`{statement}` is found in none of this revision's import roots [{roots}]{notes} and is not installed"


def _import(snapshot: Snapshot, location: Location, what: str) -> Any:
    """The class at location, imported from the snapshot; StoreUnusable when it cannot be."""
    module_name = snapshot.loaded_name(location)
    if location.module not in dict(snapshot.package_of(location).sources):
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
            changed = f"{store_class.__name__}{constructor}"
            raise StoreUnusable(f"{what}: changed signature: {changed} cannot be called as {shown}") from None
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


def probe(store_class: Any, collector_class: type, what: str, snapshot: Snapshot) -> None:
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
