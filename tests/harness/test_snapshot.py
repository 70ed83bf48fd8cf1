"""A store loaded from a repository at a revision (bench.stores.snapshot): the application's layout, and every way
a commit's store can fail to serve, each named in one line with the file and line at that commit.

The repository is tests/common/application_repository.py's: the store at src/astraguard/hil/metrics/storage.py
beside latency.py, in a package whose top-level __init__.py imports a module nobody installed.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import storage
from bench.errors import ExitCode, RevisionError, StoreUnusable, ToolMissing, UsageError
from bench.history import points, walk
from bench.history.changes import answer_changes, answers_text
from bench.model import git, location
from bench.model.answer_record import AnswerRecord, CollectorAnswers
from bench.model.location import Location
from bench.runners import equivalence
from bench.stores import loading, revision, snapshot
from bench.stores.snapshot import Snapshot
from tests.common import application_repository as app
from tests.common.store_repository import REPO_ROOT
from tests.common.store_repository import commit as commit_storage
from tests.common.store_repository import git as run_git


@pytest.fixture(scope="module")
def application(tmp_path_factory: pytest.TempPathFactory) -> app.ApplicationRepository:
    return app.build(tmp_path_factory.mktemp("application"))


def _at(application: app.ApplicationRepository, label: str, collector: Location | None = None) -> Snapshot:
    return revision.at(
        application.path, application.commits[label], Location.parse(app.STORE, "MetricsStorage"), collector
    )


# --- naming a store --------------------------------------------------------------------------------


def test_a_store_is_named_by_its_path_from_the_root_and_its_class() -> None:
    assert Location.parse(app.STORE, "MetricsStorage") == Location(app.STORE, "MetricsStorage")
    assert Location.parse(f"{app.STORE}:Other", "MetricsStorage") == Location(app.STORE, "Other")
    assert Location.parse("./storage/../storage/optimized.py", "X").path == "storage/optimized.py"
    assert location.sibling_collector(Location(app.STORE, "M")) == Location(app.COLLECTOR, "LatencyCollector")


@pytest.mark.parametrize("text", ["storage", "/abs/storage.py", "../outside.py", "storage/optimized.py:9lives", ""])
def test_a_store_path_that_is_not_a_module_in_the_repository_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="want PATH\\[:Class\\]"):
        Location.parse(text, "MetricsStorage")


# --- the application's layout --------------------------------------------------------------------


def test_the_applications_store_loads_without_running_any_of_its_packages_init(
    application: app.ApplicationRepository,
) -> None:
    loaded = _at(application, "initial")
    assert [p.dotted for p in loaded.packages] == ["astraguard.hil.metrics"]
    store_class, collector_class = loading.load(loaded, probed=True)
    # astraguard/__init__.py imports a module nobody installed: had it run, nothing would have loaded. Nothing
    # was imported from the application's files either (the deployed layout's astraguard may be, from elsewhere).
    assert app.NOT_INSTALLED not in sys.modules
    from_application = [
        m for m in list(sys.modules.values()) if str(application.path) in str(getattr(m, "__file__", ""))
    ]
    assert from_application == []
    package = store_class.__module__.rpartition(".")[0]
    assert package.startswith(snapshot.PREFIX)
    # `from astraguard.hil.metrics.latency import LatencyCollector` loaded the same revision's collector.
    assert sys.modules[store_class.__module__].LatencyCollector is collector_class
    assert collector_class.__module__ == f"{package}.latency"
    assert storage.collector_class_for(store_class) is collector_class


def test_the_collector_is_the_sibling_latency_py_at_the_same_revision(application: app.ApplicationRepository) -> None:
    early, late = _at(application, "initial"), _at(application, "collector only")
    early_collector, late_collector = loading.load(early)[1], loading.load(late)[1]
    assert early_collector is not late_collector
    for loaded, collector_class in ((early, early_collector), (late, late_collector)):
        origin = sys.modules[collector_class.__module__].__spec__.origin
        assert origin == f"git:{loaded.commit[:12]}:{app.COLLECTOR}"
    assert "Collector note 2" in late.modules()["latency"] and "Collector note 2" not in early.modules()["latency"]


def test_a_collector_elsewhere_is_loaded_from_its_own_folder(tmp_path: Path) -> None:
    """--collector PATH:Class in another folder: a package of its own, the store's absolute import of it rewritten."""
    repo = tmp_path / "repo"
    (repo / "app" / "store").mkdir(parents=True)
    (repo / "app" / "collect").mkdir(parents=True)
    for init in ("app/__init__.py", "app/store/__init__.py", "app/collect/__init__.py"):
        (repo / init).write_text("raise ImportError('never run')\n")
    baseline = (REPO_ROOT / "storage" / "baseline.py").read_text()
    with_import = baseline.replace(
        "from typing import Any\n", "from typing import Any\n\nfrom app.collect.recorder import Recorder\n"
    )
    (repo / "app" / "store" / "metrics.py").write_text(with_import)
    (repo / "app" / "collect" / "recorder.py").write_text(
        (REPO_ROOT / "storage" / "latency.py").read_text() + "\nRecorder = LatencyCollector\n"
    )
    run_git(tmp_path, "init", "-q", str(repo))
    run_git(repo, "add", "-A")
    run_git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "one")
    loaded = revision.at(
        repo,
        "HEAD",
        Location("app/store/metrics.py", "MetricsStorage"),
        Location.parse("app/collect/recorder.py:Recorder", "LatencyCollector", "--collector"),
    )
    store_class, collector_class = loading.load(loaded, probed=True)
    assert [p.dotted for p in loaded.packages] == ["app.store", "app.collect"]
    assert sys.modules[store_class.__module__].Recorder is collector_class
    assert storage.collector_class_for(store_class) is collector_class


# --- a commit that cannot serve is data: one line, what failed and where ---------------------------


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("async", "MetricsStorage.save_latency_stats is a coroutine function (async def)"),
        ("signature", "changed signature: compare_runs(other_run_id: 'str', results_dir: 'str')"),
        (
            "exporter",
            f"cannot be imported: ModuleNotFoundError: No module named 'prometheus_client' ({app.STORE}:10 at ",
        ),
        (
            "conflicted",
            f"cannot be imported: SyntaxError: expected an indented block after function definition on line 96 "
            f"({app.STORE}:97 at ",
        ),
        ("renamed", "MetricsStorage has no method get_run_metrics"),
    ],
)
def test_a_commit_that_cannot_serve_says_why_in_one_line(
    application: app.ApplicationRepository, label: str, reason: str
) -> None:
    loaded = _at(application, label)
    with pytest.raises(StoreUnusable) as raised:
        loading.load(loaded, probed=True)
    assert reason in raised.value.reason
    assert raised.value.reason.startswith(f"{application.commits[label][:12]}: {app.STORE}")
    assert "\n" not in raised.value.reason
    assert application.expected[label] in raised.value.reason


def _one_commit_repository(tmp_path: Path, source: str) -> Snapshot:
    repo = tmp_path / "repo"
    (repo / "storage").mkdir(parents=True)
    (repo / "storage" / "optimized.py").write_text(source)
    (repo / "storage" / "latency.py").write_text((REPO_ROOT / "storage" / "latency.py").read_text())
    run_git(tmp_path, "init", "-q", str(repo))
    commit_storage(repo, "one")
    return revision.at(repo, "HEAD", Location(location.DEFAULT_STORE, location.DEFAULT_CLASS))


def test_a_method_that_returns_a_coroutine_cannot_serve_and_leaves_none_unawaited(tmp_path: Path) -> None:
    source = (REPO_ROOT / "storage" / "baseline.py").read_text() + (
        "\n\nasync def _listing(results_dir, limit):\n    return []\n\n\n"
        "MetricsStorage.get_recent_runs = staticmethod(lambda results_dir='r', limit=10: _listing(results_dir, 1))\n"
    )
    loaded = _one_commit_repository(tmp_path, source)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited" would be a RuntimeWarning
        with pytest.raises(StoreUnusable, match="get_recent_runs returned a coroutine, not its answer"):
            loading.load(loaded, probed=True)


def test_a_listing_made_an_instance_method_cannot_serve(tmp_path: Path) -> None:
    source = (REPO_ROOT / "storage" / "baseline.py").read_text().replace("    @staticmethod\n", "")
    with pytest.raises(StoreUnusable, match="get_recent_runs became an instance method"):
        loading.load(_one_commit_repository(tmp_path, source))


def test_an_operation_that_raises_on_the_probe_cannot_serve_and_names_the_line(tmp_path: Path) -> None:
    source = (
        (REPO_ROOT / "storage" / "baseline.py")
        .read_text()
        .replace("        runs = []\n", "        runs = undefined_name\n")
    )
    with pytest.raises(StoreUnusable, match=r"get_recent_runs raised NameError: .*storage/optimized.py:\d+ at "):
        loading.load(_one_commit_repository(tmp_path, source), probed=True)


def test_an_optional_parameter_added_keeps_the_contract() -> None:
    """The optimized store's get_run_metrics(use_cache=True) takes every call the original takes."""
    loaded = revision.work_tree(REPO_ROOT, Location(location.DEFAULT_STORE, location.DEFAULT_CLASS))
    loading.load(loaded, probed=True)


# --- reading revisions --------------------------------------------------------------------------------


def test_a_revision_without_the_store_or_that_names_nothing_is_a_revision_error(
    application: app.ApplicationRepository,
) -> None:
    with pytest.raises(RevisionError, match=r"has no storage/optimized\.py"):
        revision.at(application.path, "HEAD", Location(location.DEFAULT_STORE, location.DEFAULT_CLASS))
    with pytest.raises(RevisionError, match="'no-such-rev' does not name a commit"):
        revision.at(application.path, "no-such-rev", Location(app.STORE, "MetricsStorage"))


def test_loading_a_revision_leaves_the_work_tree_as_it_was() -> None:
    before = run_git(REPO_ROOT, "status", "--porcelain", "--untracked-files=all")
    loading.load(revision.at(REPO_ROOT, "HEAD~1", Location(location.DEFAULT_STORE, location.DEFAULT_CLASS)))
    assert run_git(REPO_ROOT, "status", "--porcelain", "--untracked-files=all") == before


def test_a_snapshot_crosses_to_a_worker_process_unchanged(application: app.ApplicationRepository) -> None:
    head = revision.at(REPO_ROOT, "HEAD", Location(location.DEFAULT_STORE, location.DEFAULT_CLASS))
    altered = head.with_source("optimized", head.modules()["optimized"] + "\n# altered\n", "comment")
    assert Snapshot.from_json(altered.to_json()) == altered
    assert len(altered.package) == len(head.package) and altered.package != head.package
    other = _at(application, "initial")
    assert Snapshot.from_json(other.to_json()) == other


def test_a_missing_git_is_a_tool_missing_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(git.shutil, "which", lambda name: None)
    with pytest.raises(ToolMissing, match="git is not installed") as raised:
        git.commit_of(REPO_ROOT, "HEAD")
    assert raised.value.exit_code == ExitCode.USAGE


def test_a_repo_that_is_not_a_work_tree_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a folder in a git work tree"):
        git.repository(tmp_path)


# --- answers, per commit ----------------------------------------------------------------------------


def test_the_quick_equivalence_pass_names_the_operations_a_commit_changed(
    application: app.ApplicationRepository,
) -> None:
    logging_commit = _at(application, "logging")
    loading.load(logging_commit, probed=True)
    record = equivalence.check_snapshot(logging_commit)
    assert (record.verdict, record.differs_in) == ("differs", ("get_run_metrics", "compare_runs"))
    assert record.first_counterexample is not None and "NameError" in record.first_counterexample
    initial = _at(application, "initial")
    loading.load(initial, probed=True)
    record = equivalence.check_snapshot(initial)
    assert (record.verdict, record.differs_in, record.failed) == ("identical", (), 0)
    assert record.tests is not None and record.not_applicable is not None
    assert record.tests > record.not_applicable > 0  # no cache: the racy-window tests do not apply
    assert record.collector == CollectorAnswers("identical", None)


def test_the_original_gets_the_same_answers_through_a_revision_and_as_a_candidate(
    application: app.ApplicationRepository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file judged two ways must agree: the real original once read "differs" through a revision alone."""
    package = tmp_path / "astraguard" / "hil" / "metrics"
    package.mkdir(parents=True)
    for folder in (package, package.parent, package.parent.parent):
        (folder / "__init__.py").write_text("")
    (package / "storage.py").write_text(app.original_store())
    (package / "latency.py").write_text(app.original_collector())
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    as_candidate = equivalence.check_named("astraguard.hil.metrics.storage:MetricsStorage")
    at_revision = _at(application, "initial")
    loading.load(at_revision, probed=True)
    through_revision = equivalence.check_snapshot(at_revision)
    for record in (as_candidate, through_revision):
        assert (record.verdict, record.failed, record.collector) == ("identical", 0, CollectorAnswers("identical"))
    assert (as_candidate.tests, as_candidate.not_applicable) == (
        through_revision.tests,
        through_revision.not_applicable,
    )


def test_a_commit_that_changed_only_the_collectors_output_is_the_collectors_not_the_stores(
    application: app.ApplicationRepository,
) -> None:
    """Ints stored as floats by latency.py alone: the store, fed that same collector on both sides, is identical."""
    floats = _at(application, "collector floats")
    loading.load(floats, probed=True)
    record = equivalence.check_snapshot(floats)
    assert (record.verdict, record.differs_in, record.failed) == ("identical", (), 0)
    collector = record.collector
    assert collector is not None and collector.verdict == "differs" and collector.first_difference is not None
    assert collector.first_difference.startswith("saved files differ: latency_raw.csv line 2: ")
    assert ",5,0' (original) != " in collector.first_difference  # the recorded int 5, saved as 5.0


def _point(sha: str, day: int, verdict: str | None, differs_in: list[str], skipped: str | None = None) -> points.Point:
    record = None if verdict is None else AnswerRecord(verdict, tuple(differs_in))
    return points.Point(
        commit=sha * 40,
        date=f"2026-10-{day:02d}",
        subject=sha,
        machine={"id": "0" * 10},
        provenance={},
        settings={},
        store={},
        generation=day,
        equivalence=record,
        skipped=skipped,
    )


def test_answer_changes_are_the_commits_whose_answers_differ_from_the_last_checked_ones() -> None:
    points = [
        _point("a", 1, "identical", []),
        _point("b", 2, "differs", ["compare_runs"]),
        _point("c", 3, None, [], skipped="cannot serve"),  # passed over, as `git bisect skip` does
        _point("d", 4, "differs", ["compare_runs"]),
        _point("e", 5, "identical", []),
    ]
    changes = answer_changes(points, None)
    assert [(c.subject, c.before, c.after) for c in changes] == [
        ("b", "identical", "differs in compare_runs"),
        ("e", "differs in compare_runs", "identical"),
    ]
    assert answers_text(points[2]) == "cannot serve"
    assert answers_text(dataclasses.replace(points[0], equivalence=None)) == "not checked"


def test_history_walks_mains_first_parent_line_and_every_commit_on_request(
    application: app.ApplicationRepository,
) -> None:
    paths = points.default_paths(Location(app.STORE, "M"), location.sibling_collector(Location(app.STORE, "M")))
    line = points.commits_in(application.path, None, 50, paths)
    assert [c.sha for c in line] == [application.commits[label] for label in application.main_line]
    assert application.commits["merge listing"] in {c.sha for c in line}  # the merge is the step
    every = points.commits_in(application.path, None, 50, paths, first_parent=False)
    side = {"async", "signature", "conflicted", "renamed", "sync again", "slower", "listing note"}
    walked = {label for label, sha in application.commits.items() if sha in {c.sha for c in every}}
    # git's walk of every parent passes over a merge that took one side whole, and over a branch whose change main
    # already had (the hotfix)
    assert side <= walked and not walked & {"merge async", "hotfix note"}
    assert [c.date for c in every] == sorted(c.date for c in every)


def test_the_installed_entry_point_finds_the_code_at_the_checkouts_root() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import metrics_store_bench as m; print(m.code_root())"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(done.stdout.strip()) == REPO_ROOT


def test_history_refuses_to_resume_in_a_folder_of_another_stores_points(
    application: app.ApplicationRepository, tmp_path: Path
) -> None:
    """A point of this commit and machine, measured for this repository's default store, is not this store's."""
    head = application.commits[application.main_line[-1]]  # HEAD: what --last 1 walks
    write_at = points.point_path(tmp_path, head, points.machine()["id"])
    default = Location(location.DEFAULT_STORE, location.DEFAULT_CLASS)
    committed = json.loads(sorted((REPO_ROOT / "results" / "history").glob("*.json"))[0].read_text())
    record = points.store_record(default, location.sibling_collector(default))
    saved = {**committed, "commit": head, "machine": points.machine(), "store": record}
    points.write_point(write_at, points.Point.from_json(saved, "the committed point"))
    with pytest.raises(UsageError, match=r"measured another store \(storage/optimized\.py\): give another --output"):
        walk.history(
            store=Location(app.STORE, "MetricsStorage"),
            collector=None,
            repo_given=application.path,
            rev_range=None,
            last=1,
            points_only=False,
            only=["get_recent_runs[100]"],
            shard_spec=None,
            paths_given=None,
            output=tmp_path,
            answers=False,
            processes=3,
            rounds=1,
            max_reruns=0,
            seed=1,
        )
