"""The store as the application runs it: storage/optimized.py copied unchanged as astraguard/hil/metrics/storage.py.

Beside it lies storage/latency.py as the application's latency.py, so the store's relative import finds the
application's own LatencyCollector, and its save fast path is keyed to that class. Benchmarks and the
equivalence suite name this layout "deployed"; it is built once per content of the two files.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import sys
from pathlib import Path
from typing import Any, Final

from bench.errors import UsageError
from bench.model.fixtures import default_cache_dir, publish
from bench.model.results import REPO_ROOT

DEPLOYED: Final = "deployed"
APP_PACKAGE: Final = "astraguard.hil.metrics"
STORE_MODULE: Final = f"{APP_PACKAGE}.storage"
_STORAGE_DIR: Final = REPO_ROOT / "storage"
# What the application's package holds, by file name, and where each comes from in this repository.
SOURCES: Final = {"storage.py": _STORAGE_DIR / "optimized.py", "latency.py": _STORAGE_DIR / "latency.py"}


def lay_out(root: Path) -> Path:
    """Writes the application's package under root (which must not hold one yet); returns the package folder."""
    package = root.joinpath(*APP_PACKAGE.split("."))
    package.mkdir(parents=True)
    for depth in range(1, len(APP_PACKAGE.split(".")) + 1):
        root.joinpath(*APP_PACKAGE.split(".")[:depth], "__init__.py").write_text("")
    for name, source in SOURCES.items():
        shutil.copyfile(source, package / name)
    return package


def _content_key() -> str:
    digest = hashlib.sha256()
    for name, source in SOURCES.items():
        digest.update(name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def deployed_root(cache: Path | None = None) -> Path:
    """A folder holding the layout of the current sources, built once and renamed into place whole."""
    cache = default_cache_dir() if cache is None else cache
    final = cache / f"deployed-{_content_key()}"
    return final if final.is_dir() else publish(lay_out, final)


def deployed_store_class(cache: Path | None = None) -> Any:
    """The deployed layout's MetricsStorage, imported from it as the application would import it."""
    root = str(deployed_root(cache))
    loaded = sys.modules.get(STORE_MODULE)
    if loaded is not None and not str(Path(loaded.__file__ or "")).startswith(root):
        raise UsageError(f"{STORE_MODULE} is already imported from {loaded.__file__}, not from {root}")
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module(STORE_MODULE).MetricsStorage
