"""storage/baseline.py is the control: any edit must fail here until the pin is changed on purpose."""

import hashlib
from pathlib import Path

import storage.baseline

# Changed on purpose once: compare_runs now loads the other run first and returns before
# reading this one, and both checks are `is None`, as the real original does. The old pin was
# 87facdeaf4a69e71690dcf39c65612a4a270389d1d8235aa2ee2f79c46626215.
BASELINE_SHA256 = "2445f06e01d8400de9201ea53794ad14d6419b533e19c94bf3a3aadc3a2cb846"


def test_baseline_file_is_unchanged() -> None:
    digest = hashlib.sha256(Path(storage.baseline.__file__).read_bytes()).hexdigest()
    assert digest == BASELINE_SHA256, "storage/baseline.py changed: it is the frozen control, undo the edit"
