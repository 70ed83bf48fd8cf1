"""The application-shaped repository of the tests, plus four more commits that touch the store: 20 in all."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: tests.common

from tests.common import application_repository as app

folder = Path(sys.argv[1])
folder.mkdir(parents=True)
repo = app.build(folder)
store = (folder / app.STORE).read_text()
for n in range(1, 5):
    store += f"\n# Maintenance note {n}.\n"
    repo.write(app.STORE, store)
    repo.commit(f"note {n}", f"Storage: maintenance note {n}", app.IDENTICAL)
print(len(repo.commits), "commits in", folder)
