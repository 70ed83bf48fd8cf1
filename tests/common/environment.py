"""What a test needs from the machine (a browser, a mount, setpriv), and what it does without: outside CI it skips
with the reason; where the environment requires everything to run (METRICS_STORE_BENCH_CI, which .ci/run sets, or
CI) it fails instead, so a green CI run is never one that skipped them."""

from __future__ import annotations

import os
from typing import Final, NoReturn

import pytest

REQUIRE: Final = "METRICS_STORE_BENCH_CI"


def required() -> bool:
    return bool(os.environ.get(REQUIRE) or os.environ.get("CI"))


def unavailable(reason: str) -> NoReturn:
    if required():
        pytest.fail(f"{reason} ({REQUIRE} or CI is set: this test must run here, not skip)")
    pytest.skip(reason)
