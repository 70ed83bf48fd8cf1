"""The tests' application-shaped repository (tests/common/application_repository.py) in a folder; its commits by
label, and the labels of main's first-parent line, to labels.json beside it."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.common

from tests.common import application_repository as app

folder = Path(sys.argv[1])
folder.mkdir(parents=True)
repo = app.build(folder)
labels = {"commits": repo.commits, "main_line": repo.main_line, "expected": repo.expected}
Path(sys.argv[2]).write_text(json.dumps(labels, indent=2))
print(len(repo.commits), "commits,", len(repo.main_line), "on main's first-parent line, in", folder)
