"""storage/baseline.py is the control: any edit must fail here until the pin is changed on purpose."""

import hashlib
from pathlib import Path

import storage.baseline

BASELINE_SHA256 = "87facdeaf4a69e71690dcf39c65612a4a270389d1d8235aa2ee2f79c46626215"


def test_baseline_file_is_unchanged() -> None:
    digest = hashlib.sha256(Path(storage.baseline.__file__).read_bytes()).hexdigest()
    assert digest == BASELINE_SHA256, "storage/baseline.py changed: it is the frozen control, undo the edit"
