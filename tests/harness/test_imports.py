"""A revision's store imports what the application's interpreter would import (bench.stores.revision): whatever the
layout, the stray __init__.py files, the packaging settings and the import form, the store gets its own revision's
collector, and an import found nowhere names itself and the roots it was looked for in.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from bench.errors import StoreUnusable
from bench.model.location import Location
from bench.stores import loading, revision, snapshot
from bench.stores.snapshot import Snapshot
from tests.common.store_repository import REPO_ROOT
from tests.common.store_repository import git as run_git

STORE = "src/astraguard/hil/metrics/storage.py"
COLLECTOR = "src/astraguard/hil/metrics/latency.py"
ORIGINAL = (REPO_ROOT / "storage" / "baseline.py").read_text()
LATENCY = (REPO_ROOT / "storage" / "latency.py").read_text()


def _store(import_line: str, bound: str) -> str:
    """The original store importing its collector by `import_line`, with `COLLECTOR = bound` to find what it got."""
    return ORIGINAL.replace("from typing import Any\n", f"from typing import Any\n\n{import_line}\n") + (
        f"\n\nCOLLECTOR = {bound}\n"
    )


FROM_MODULE = ("from astraguard.hil.metrics.latency import LatencyCollector", "LatencyCollector")


def _repository(folder: Path, files: dict[str, str], store: str = STORE, collector: str = COLLECTOR) -> Path:
    """A one-commit repository of `files` beside the store (FROM_MODULE's import unless given) and its collector."""
    everything = {store: _store(*FROM_MODULE), collector: LATENCY, **files}
    for path, text in everything.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    run_git(folder, "init", "-q")
    run_git(folder, "add", "-A")
    run_git(folder, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "one")
    return folder


def _loads_its_own_collector(loaded: Snapshot) -> None:
    store_class, collector_class = loading.load(loaded, probed=True)
    assert sys.modules[store_class.__module__].COLLECTOR is collector_class
    assert collector_class.__module__.startswith(snapshot.PREFIX)


def _at(repo: Path, store: str = STORE, collector: str | None = None) -> Snapshot:
    return revision.at(
        repo, "HEAD", Location(store, "MetricsStorage"), collector and Location(collector, "LatencyCollector")
    )


# --- where the package's root is ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "inits",
    [
        pytest.param([], id="no-init-at-all"),
        pytest.param(["src/astraguard/__init__.py", "src/astraguard/hil/__init__.py"], id="package-inits"),
        pytest.param(["src/__init__.py", "src/astraguard/__init__.py"], id="stray-src-init"),
    ],
)
def test_an_src_layout_loads_its_own_collector_whatever_init_files_lie_above(tmp_path: Path, inits: list[str]) -> None:
    files = dict.fromkeys(inits, "raise ImportError('an __init__ never runs')\n")
    loaded = _at(_repository(tmp_path, files))
    assert loaded.packages[0].dotted == "astraguard.hil.metrics"  # not src.astraguard.hil.metrics
    assert loaded.roots[0].path == "src"
    assert "implied by `from astraguard.hil.metrics.latency import LatencyCollector`" in loaded.roots[0].why
    _loads_its_own_collector(loaded)
    assert snapshot.short_label(loaded) == "astraguard.hil.metrics.storage.MetricsStorage"


def test_a_package_at_the_repositorys_root_loads_its_own_collector(tmp_path: Path) -> None:
    store, collector = "astraguard/hil/metrics/storage.py", "astraguard/hil/metrics/latency.py"
    loaded = _at(_repository(tmp_path, {"astraguard/__init__.py": "import not_installed\n"}, store, collector), store)
    assert loaded.roots[0].path == ""
    _loads_its_own_collector(loaded)


def test_the_longest_trailing_part_of_the_folders_path_that_the_import_starts_with_is_the_root(tmp_path: Path) -> None:
    store, collector = "lib/metrics/metrics/storage.py", "lib/metrics/metrics/latency.py"
    files = {store: _store("from metrics.metrics.latency import LatencyCollector", "LatencyCollector")}
    loaded = _at(_repository(tmp_path, files, store, collector), store)
    assert [root.path for root in loaded.roots] == ["lib"]  # not lib/metrics, where metrics/metrics/ is not
    _loads_its_own_collector(loaded)


SETTINGS = {
    "setuptools-packages-and-pytest-pythonpath": (
        {
            "pyproject.toml": '[tool.setuptools]\npackages = ["api", "astraguard"]\n\n'
            '[tool.pytest.ini_options]\npythonpath = ["src"]\n'
        },
        "pyproject.toml [tool.pytest.ini_options] pythonpath",
    ),
    "setuptools-package-dir": (
        {"pyproject.toml": '[tool.setuptools.package-dir]\n"" = "src"\n'},
        "pyproject.toml [tool.setuptools] package-dir",
    ),
    "setuptools-package-dir-by-name": (
        {"pyproject.toml": '[tool.setuptools.package-dir]\nastraguard = "src/astraguard"\n'},
        "pyproject.toml [tool.setuptools] package-dir",
    ),
    "setuptools-find-where": (
        {"pyproject.toml": '[tool.setuptools.packages.find]\nwhere = ["src"]\n'},
        "pyproject.toml [tool.setuptools.packages.find] where",
    ),
    "hatch-packages": (
        {"pyproject.toml": '[tool.hatch.build.targets.wheel]\npackages = ["src/astraguard"]\n'},
        "pyproject.toml [tool.hatch.build.targets.wheel] packages",
    ),
    "poetry-packages": (
        {"pyproject.toml": '[tool.poetry]\npackages = [{include = "astraguard", from = "src"}]\n'},
        "pyproject.toml [tool.poetry] packages",
    ),
    "setup-cfg-package-dir": (
        {"setup.cfg": "[options]\npackage_dir =\n    =src\n"},
        "setup.cfg [options] package_dir",
    ),
    "pytest-ini-pythonpath": ({"pytest.ini": "[pytest]\npythonpath = src\n"}, "pytest.ini [pytest] pythonpath"),
}


@pytest.mark.parametrize("setting", SETTINGS)
def test_the_root_a_packaging_setting_names_comes_first(tmp_path: Path, setting: str) -> None:
    files, why = SETTINGS[setting]
    loaded = _at(_repository(tmp_path, {**files, "src/__init__.py": ""}))
    assert (loaded.roots[0].path, loaded.roots[0].why) == ("src", why)
    _loads_its_own_collector(loaded)


def test_a_setting_outranks_what_the_imports_imply(tmp_path: Path) -> None:
    """A stale copy at the repository's root is what the interpreter imports when the settings put the root first."""
    stale = LATENCY + "\n\nclass LatencyCollector(LatencyCollector):\n    STALE = True\n"
    files = {
        "pyproject.toml": '[tool.setuptools]\npackages = ["astraguard"]\n',
        "astraguard/hil/metrics/latency.py": stale,
    }
    loaded = _at(_repository(tmp_path, files))
    assert [root.path for root in loaded.roots] == ["", "src"]
    store_class, _ = loading.load(loaded)
    assert sys.modules[store_class.__module__].COLLECTOR.STALE is True


def test_a_settings_file_that_does_not_parse_is_named_and_the_imports_still_decide(tmp_path: Path) -> None:
    loaded = _at(_repository(tmp_path, {"pyproject.toml": "[tool.setuptools\npackages = \n"}))
    assert loaded.notes and loaded.notes[0].startswith("pyproject.toml does not parse")
    _loads_its_own_collector(loaded)


# --- every form of import ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("import_line", "bound"),
    [
        FROM_MODULE,
        ("from astraguard.hil.metrics import latency", "latency.LatencyCollector"),
        ("import astraguard.hil.metrics.latency as lat", "lat.LatencyCollector"),
        ("import astraguard.hil.metrics.latency", "astraguard.hil.metrics.latency.LatencyCollector"),
        ("from .latency import LatencyCollector", "LatencyCollector"),
        ("from . import latency", "latency.LatencyCollector"),
        ("from src.astraguard.hil.metrics.latency import LatencyCollector", "LatencyCollector"),
    ],
    ids=["from-module", "from-package", "import-as", "import-dotted", "relative", "relative-package", "src-prefixed"],
)
def test_every_import_form_gets_the_revisions_collector(tmp_path: Path, import_line: str, bound: str) -> None:
    files = {"src/__init__.py": "", STORE: _store(import_line, bound)}
    _loads_its_own_collector(_at(_repository(tmp_path, files)))


def test_a_plain_dotted_import_binds_its_own_namespace_not_the_applications_package(tmp_path: Path) -> None:
    files = {
        STORE: _store(
            "import astraguard.hil.metrics.latency\nimport json", "astraguard.hil.metrics.latency.LatencyCollector"
        )
    }
    store_class, _ = loading.load(_at(_repository(tmp_path, files)))
    bound = vars(sys.modules[store_class.__module__])["astraguard"]
    assert bound.__name__ == "astraguard" and bound is not sys.modules.get("astraguard")  # the deployed layout's
    assert bound.hil.metrics.latency.__name__.startswith(snapshot.PREFIX)


@pytest.mark.parametrize(
    "import_line",
    ["from ..shared.units import MS", "from astraguard.hil.shared.units import MS", "from ..shared import units"],
)
def test_modules_outside_the_stores_folder_load_from_the_same_revision(tmp_path: Path, import_line: str) -> None:
    bound = "units.MS" if import_line.endswith("import units") else "MS"
    files = {
        STORE: _store(f"{FROM_MODULE[0]}\n{import_line}", f"(LatencyCollector, {bound})"),
        "src/astraguard/hil/shared/units.py": "MS = 'revision'\n",
    }
    loaded = _at(_repository(tmp_path, files))
    assert "src/astraguard/hil/shared" in [package.folder for package in loaded.packages]
    store_class, collector_class = loading.load(loaded)
    assert (collector_class, "revision") == sys.modules[store_class.__module__].COLLECTOR


def test_an_import_found_nowhere_names_itself_and_the_roots_it_was_looked_for_in(tmp_path: Path) -> None:
    files = {STORE: _store(f"{FROM_MODULE[0]}\nfrom astraguard.hil.telemetry import Exporter", "LatencyCollector")}
    with pytest.raises(StoreUnusable) as raised:
        loading.load(_at(_repository(tmp_path, files)))
    reason = raised.value.reason
    # 'astraguard', or deeper where another test put the deployed layout's astraguard on this process's path
    assert re.search(r"ModuleNotFoundError: No module named 'astraguard(\.hil(\.telemetry)?)?' \(", reason), reason
    line = files[STORE].splitlines().index("from astraguard.hil.telemetry import Exporter") + 1
    assert f"({STORE}:{line} at " in reason
    statement = "`from astraguard.hil.telemetry import Exporter`"
    assert f"{statement} is found in none of this revision's import roots [src/ (implied by " in reason
    assert reason.endswith("] and is not installed")


def test_the_work_tree_resolves_as_its_commit_does(tmp_path: Path) -> None:
    repo = _repository(tmp_path, {"src/__init__.py": ""})
    committed, working = _at(repo), revision.work_tree(repo, Location(STORE, "MetricsStorage"))
    assert (committed.packages, committed.roots) == (working.packages, working.roots)
    _loads_its_own_collector(working)


def test_a_collector_the_revision_does_not_have_is_named_not_a_crash(tmp_path: Path) -> None:
    loaded = _at(_repository(tmp_path, {}), collector="src/astraguard/hil/telemetry/recorder.py")
    with pytest.raises(StoreUnusable, match=r"no src/astraguard/hil/telemetry/recorder\.py at [0-9a-f]{12}"):
        loading.load(loaded)
