"""Where a store is named: a class in a module, by the module's path from the repository's root (`PATH[:Class]`),
and its collector, the `latency.py` beside it unless another is named."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Final

from bench.errors import UsageError

DEFAULT_STORE: Final = "storage/optimized.py"  # this repository's; the application's is named with --store
DEFAULT_FOLDER: Final = posixpath.dirname(DEFAULT_STORE)
DEFAULT_CLASS: Final = "MetricsStorage"
COLLECTOR_FILE: Final = "latency.py"  # beside the store, unless --collector names another
COLLECTOR_CLASS: Final = "LatencyCollector"


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
