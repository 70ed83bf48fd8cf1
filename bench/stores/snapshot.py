"""A store module and the modules it imports, read at a git revision or from a work tree, as source text: what
any process needs to import that store beside every other (bench.stores.revision reads them and says from where;
bench.stores.loading imports them).

`PATH[:Class]` names a store by its module's path from the repository's root (`storage/optimized.py`, or
the application's `src/astraguard/hil/metrics/storage.py`) and its class (default MetricsStorage). Its
collector is `LatencyCollector` of the `latency.py` beside it at the same revision, unless another
`PATH[:Class]` is given.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

from bench.errors import RevisionError, UsageError
from bench.model.location import Location

PREFIX: Final = "storage_at_"
SPEC_PREFIX: Final = "snapshot:"  # a candidate spec naming a snapshot's JSON file, for another process


@dataclass(frozen=True)
class Root:
    """An import root (a folder on the application's sys.path), and what says it is one."""

    path: str  # from the repository's root; "" is the root itself
    why: str

    def __str__(self) -> str:
        return f"{self.path or '.'}/ ({self.why})"


@dataclass(frozen=True)
class Package:
    """One folder's modules as source text, and the names the revision's imports reach the folder by."""

    folder: str  # from the repository's root; "" is the root
    # Dotted names, e.g. ("astraguard.hil.metrics",); "" when the folder is itself a root (its modules are
    # imported by bare name); none when only relative imports reach it.
    names: tuple[str, ...]
    sources: tuple[tuple[str, str], ...]  # (module, source) of the modules read in it, never __init__.py

    @property
    def dotted(self) -> str:
        """The folder's import name as the application writes it ("" if it has none)."""
        return next((name for name in self.names if name), "")


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
    roots: tuple[Root, ...] = ()  # where absolute imports were looked for, in order (bench.stores.revision)
    notes: tuple[str, ...] = ()  # settings of the revision's that could not be read

    def package_name(self, package: Package) -> str:
        key = hashlib.sha1(f"{self.commit}\0{package.folder}".encode(), usedforsecurity=False).hexdigest()
        return f"{PREFIX}{key[:12]}"

    @property
    def package(self) -> str:
        """The store's package as this process imports it."""
        return self.package_name(self.packages[0])

    def package_of(self, location: Location) -> Package:
        """The loaded folder that holds location (the store's, or the collector's); an empty one where the revision
        has no Python file in that folder."""
        return next((p for p in self.packages if p.folder == location.folder), Package(location.folder, (), ()))

    def loaded_name(self, location: Location) -> str:
        return f"{self.package_name(self.package_of(location))}.{location.module}"

    def source_sha256(self, location: Location) -> str | None:
        """sha256 of the module at location (the store, or the collector) as read here; None if it was not."""
        source = dict(self.package_of(location).sources).get(location.module)
        return None if source is None else hashlib.sha256(source.encode()).hexdigest()

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
        return replace(self, commit=digest(packages), packages=packages, variant=variant)

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
            "packages": [[p.folder, list(p.names), [list(s) for s in p.sources]] for p in self.packages],
            "variant": self.variant,
            "in_work_tree": self.in_work_tree,
            "roots": [[root.path, root.why] for root in self.roots],
            "notes": list(self.notes),
        }
        return json.dumps(document)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        d = json.loads(text)
        packages = tuple(
            Package(folder, tuple(names), tuple(map(tuple, sources))) for folder, names, sources in d["packages"]
        )
        return cls(
            d["rev"],
            d["commit"],
            Location(*d["store"]),
            Location(*d["collector"]),
            packages,
            d["variant"],
            d["in_work_tree"],
            tuple(Root(*root) for root in d["roots"]),
            tuple(d["notes"]),
        )


def digest(packages: tuple[Package, ...]) -> str:
    """A work tree's or an altered copy's stand-in for a commit hash, as long as one."""
    return hashlib.sha1(repr(packages).encode(), usedforsecurity=False).hexdigest()


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
