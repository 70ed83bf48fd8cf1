"""The installed tool: `metrics-store-bench <command>` (or `python -m metrics_store_bench`) is `python -m bench`.

`pip install` of this repository (a path, or a git URL at a tag) installs one top-level package, this one.
The repository's code ships beneath it in `_lib/`, laid out as in a checkout (pyproject.toml, bench/,
storage/ with the frozen baseline and its collector, tests/ with the equivalence suite, schemas/). Its
packages keep their names there, `bench` and `storage`, but `_lib/` is on no path of the environment:
only this entry point puts it first on its own process's path (and, through PYTHONPATH, on its workers'),
so installing the tool beside an application shadows none of the application's modules.

In a checkout (an editable install) there is no `_lib/`: the repository's root is the same layout.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROG = "metrics-store-bench"


def code_root() -> Path:
    """Where bench/ and storage/ are: _lib/ beside this file when installed, else the checkout's root."""
    here = Path(__file__).resolve().parent
    installed = here / "_lib"
    return installed if installed.is_dir() else here.parent


def main() -> int:
    root = str(code_root())
    sys.path.insert(0, root)
    # Worker processes (pyperf's, pytest's, valgrind's) import the harness by name too.
    os.environ["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    # Imported only now, once the path holds the code: the harness is `bench`, and nothing else finds it.
    from bench.cli import main as bench_main

    return bench_main(prog=PROG)
