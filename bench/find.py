"""python -m bench.find GOOD BAD --only NAME: bisect a slowdown to its first commit (see bench.history)."""

from __future__ import annotations

import sys

from bench.history import find_main

if __name__ == "__main__":
    sys.exit(find_main())
