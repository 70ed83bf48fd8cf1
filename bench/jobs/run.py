"""The main job (`python -m bench`, `nox -s bench`): both suites over the chosen candidates, interleaved, then one
table and the report.

Results go to results/latest/ (git-ignored); --rebaseline writes the committed results/pyperf/ and
results/pytest-benchmark/ instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import datetime
from pathlib import Path

from bench.errors import ExitCode, StaleControl, UsageError
from bench.gate.instructions import count_and_print
from bench.jobs.mechanisms import count_mechanisms
from bench.model import git
from bench.model.fixtures import Fixtures, default_cache_dir
from bench.model.location import Location
from bench.model.operations import build_fixtures, cases
from bench.model.results import COMMAND, INSTALLED, MECHANISMS, RESULTS, require_checkout, shown
from bench.report import build, summary
from bench.report.publish import publish as publish_summary
from bench.runners import equivalence
from bench.runners.instructions import selected_names
from bench.runners.suites import FULL, QUICK, Clock, publish, run_pyperf, run_pytest_benchmark
from bench.stores import loading, revision, snapshot
from bench.stores.candidates import BASELINE, label, select


def _load_average() -> str:
    """The machine's load, printed at both ends of a run: timings taken beside other work are noisier."""
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main_job(
    *,
    candidates: str | None,
    deployed: bool,
    store: Location | None,
    collector: Location | None,
    repo_given: Path | None,
    quick: bool,
    rebaseline: bool,
    output: Path,
    instructions: bool,
    large: bool,
    fixtures: Fixtures,
    destinations: tuple[Path | None, Path | None],
) -> ExitCode:
    """Both suites over the candidates (with `store`: also the work tree's store there), then the table and report."""
    if rebaseline:
        require_checkout("run --rebaseline")
        if quick or candidates is not None or large or store is not None:
            raise UsageError(
                "--rebaseline records a full run of every registered store: drop --quick, --candidates, --sizes "
                "and --store"
            )
    if store is None and (collector is not None or repo_given is not None):
        raise UsageError("--collector and --repo name where --store's store is: give --store")
    with contextlib.ExitStack() as stack:
        specs = select(candidates, deployed=deployed or rebaseline)
        if store is not None:
            working = revision.work_tree(git.repository(repo_given), store, collector)
            loading.load(working, probed=True)  # a store that cannot serve: exit 1, with the reason
            specs.append(stack.enter_context(snapshot.written(working)))  # a spec every worker process resolves
        if instructions:
            if fixtures.cache != default_cache_dir().resolve():
                raise UsageError("--instructions counts in the default fixture cache: it takes no --fixture-cache")
            return count_and_print(specs, selected_names(quick, None), fixtures.seed)
        # The answers beside the speed: the quick pass; on a re-baseline, the ci profile results/equivalence.json holds.
        profile = "ci" if rebaseline else equivalence.QUICK_PROFILE
        where = (RESULTS if rebaseline else output).resolve()
        return _both_suites(specs, quick, large, where, fixtures, destinations, profile)


def _both_suites(
    specs: list[str],
    quick: bool,
    large: bool,
    output: Path,
    fixtures: Fixtures,
    destinations: tuple[Path | None, Path | None],
    answers_profile: str,
) -> ExitCode:
    if quick and large:
        raise UsageError("--quick measures the quick sizes only: it takes no --sizes large")
    mode = QUICK if quick else FULL
    selected = cases(quick, large)
    bench_run = f"{datetime.now():%Y%m%dT%H%M%S}-{os.urandom(3).hex()}"
    staging = output / f".staging-{bench_run}"
    clock = Clock()
    print(f"bench run {bench_run}: {', '.join(map(label, specs))}; {len(selected)} cases; {_load_average()}")

    try:
        build_fixtures(fixtures, selected)
        print(f"[{clock}] fixtures ready (seed {fixtures.seed}, cache {fixtures.cache})", flush=True)
        run_pyperf(selected, specs, mode, fixtures, staging, bench_run, clock)
        print(f"[{clock}] pytest-benchmark suite", flush=True)
        run_pytest_benchmark(specs, quick, mode, fixtures, staging, bench_run, large)
    except BaseException:
        print(f"{COMMAND}: partial results kept in {staging}", file=sys.stderr)
        raise
    pyperf_files, pytest_file = publish(staging, output, specs)

    print(f"[{clock}] answers of each candidate against the frozen original (Hypothesis profile {answers_profile})")
    equivalence.record_specs([s for s in specs if s != BASELINE], answers_profile, output / summary.EQUIVALENCE_FILE)
    print(f"[{clock}] calls that reach the system, per store (cProfile): the proposal's claims of how it works")
    count_mechanisms(specs, fixtures.seed, output / MECHANISMS.path.name)
    pyperf_results, pytest_results = summary.collect(pyperf_files, pytest_file)
    print(f"\n[{clock}] results in {output}/pyperf/ and {pytest_file}\n")
    differing = summary.differing_by_candidate(output)
    rows = summary.build_rows(pyperf_results, pytest_results, [label(s) for s in specs], differing)
    table = summary.render(rows)
    print(table)
    published = summary.bench_summary(rows, output, bench_run, table)
    published.seconds = clock.seconds()
    if INSTALLED:  # the report sets the run beside this repository's committed results, which a checkout holds
        print(f"\n[{clock}] no report: it needs a checkout of metrics-store-bench (the report command)")
    else:
        try:
            written = build.write_report(output)
        except StaleControl as e:  # the run itself is saved; a file the report also reads is not comparable
            raise StaleControl(f"the run is saved in {output}, but the report was not written: {e}") from e
        print(f"\n[{clock}] report written to {written} (the report command, from the files above)")
        published.link = shown(written)
    for path in publish_summary(published, *destinations):
        print(f"[{clock}] summary written to {path}")
    print(f"\nfinished in {clock}; {_load_average()}")
    return ExitCode.OK
