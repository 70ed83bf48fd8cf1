"""`python -m metrics_store_bench <command>`: the installed tool's console script, run as a module."""

import sys

from metrics_store_bench import main

if __name__ == "__main__":  # a spawned worker re-imports the parent's __main__ under another name: it must not run
    sys.exit(main())
