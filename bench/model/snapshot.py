"""A store module and the files beside it, read at a git revision or from a work tree, as source text: what any
process needs to import that store beside every other (bench.model.loading does the importing).

`PATH[:Class]` names a store by its module's path from the repository's root (`storage/optimized.py`, or
the application's `src/astraguard/hil/metrics/storage.py`) and its class (default MetricsStorage). Its
collector is `LatencyCollector` of the `latency.py` beside it at the same revision, unless another
`PATH[:Class]` is given. Every `*.py` of the store's folder (and of the collector's, if elsewhere) is read
with `git show` (the work tree is never touched), with the folder's import name at that commit
(`astraguard.hil.metrics`), so that absolute imports of it can be pointed at the loaded copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from bench.errors import RevisionError, UsageError
from bench.model import git

DEFAULT_STORE: Final = "storage/optimized.py"  # this repository's; the application's is named with --store
DEFAULT_FOLDER: Final = posixpath.dirname(DEFAULT_STORE)
DEFAULT_CLASS: Final = "MetricsStorage"
COLLECTOR_FILE: Final = "latency.py"  # beside the store, unless --collector names another
COLLECTOR_CLASS: Final = "LatencyCollector"
PREFIX: Final = "storage_at_"
SPEC_PREFIX: Final = "snapshot:"  # a candidate spec naming a snapshot's JSON file, for another process


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

    def package_of(self, location: Location) -> Package:
        """The loaded folder that holds location (the store's, or the collector's)."""
        return next(p for p in self.packages if p.folder == location.folder)

    def loaded_name(self, location: Location) -> str:
        return f"{self.package_name(self.package_of(location))}.{location.module}"

    def spec(self) -> str:
        """The storage.resolve() name of the store ("module:Class"), once install()ed."""
        return f"{self.loaded_name(self.store)}:{self.store.name}"

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
