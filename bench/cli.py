"""The one entry point, `python -m bench <command>` (installed: `metrics-store-bench <command>`), and the one place
where errors become exit codes.

Each command is a module bench.commands.<name> (a dash in the name is an underscore there) with `HELP`,
`add_arguments(parser)` and `run(args) -> ExitCode`; only the chosen command's module is imported (start-up cost:
`python -m bench --help` needs none of them). A bare `python -m bench [options]` is `python -m bench run [options]`,
the main job.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Final, Protocol

from bench.errors import BenchError, ExitCode
from bench.model.results import require_checkout


class Command(Protocol):
    """What a command module offers the CLI."""

    HELP: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> ExitCode: ...


# name (its module is bench.commands.<name>): one line for `--help`; the module's HELP says it at greater length.
COMMANDS: Final = {
    "run": "the main job: both suites, candidates interleaved, one table, the report (default)",
    "gate": "the CI perf gate: the working tree against a git revision or the saved ratios",
    "report": "results/REPORT.md and its plots from saved results (never benchmarks)",
    "summary": "the main job's table again, from a results folder",
    "instructions": "instruction (callgrind) and system-call (strace) counts per call",
    "calibrate": "the rule's false-alarm and detection rates in gate, history and find; regenerates results/GATE.md",
    "floors": "the least work each answer needs, beside the store (floors.json)",
    "equivalence": "the equivalence suite per candidate: results/equivalence.json",
    "soak": "reliability tests long and short, the fsync cost, then results/RELIABILITY.md",
    "history": "a point per commit, each beside the one before it, and the steps the rule names in them",
    "find": "bisect GOOD..BAD for the first commit that slowed the --only benchmarks",
    "mutants": "mutmut's mutants of storage/optimized.py against the equivalence suite",
    "publish": "the history dashboard: a static site from saved results (never benchmarks)",
    "preview": "serve a published site on 127.0.0.1 until Ctrl-C",
    "site-cost": "the dashboard's cost: publish over 1,000 commits x 9 x 4, and its largest page's draw",
}
DEFAULT_COMMAND: Final = "run"
# Commands that read or rewrite this repository's committed results: a checkout's work, not the installed tool's.
CHECKOUT_ONLY: Final = frozenset({"report", "calibrate", "floors", "soak", "mutants"})
PROG: Final = "python -m bench"
EPILOG: Final = (
    "exit status: 0 all held; 1 a regression or a failed check; 2 a usage error, or saved files that do not "
    "match (provenance); 130 interrupted. An unexpected exception prints its traceback (exit 1)."
)


def _chosen(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """(command, argv with the command spelled out): the first word names it, else it is the main job."""
    argv = list(argv)
    if argv and argv[0] in ("-h", "--help"):
        return None, argv
    if argv and argv[0] in COMMANDS:
        return argv[0], argv
    return DEFAULT_COMMAND, [DEFAULT_COMMAND, *argv]


def parser(chosen: str | None = None, prog: str = PROG) -> argparse.ArgumentParser:
    """The whole parser; only the chosen command's module is imported to add its arguments."""
    top = argparse.ArgumentParser(
        prog=prog,
        description="Benchmarks, the CI perf gate, history and reports for the latency metrics stores.",
        epilog=EPILOG,
    )
    commands = top.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name, help_text in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=EPILOG)
        if name == chosen:
            command: Command = importlib.import_module(f"bench.commands.{name.replace('-', '_')}")
            sub.description = command.HELP
            command.add_arguments(sub)
            sub.set_defaults(run=command.run)
    return top


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    chosen, argv = _chosen(sys.argv[1:] if argv is None else argv)
    args = parser(chosen, prog).parse_args(argv)  # --help and bad options exit here, through argparse (0 and 2)
    assert chosen is not None  # no command is chosen only by --help, which has exited
    try:
        # Default paths resolve from the code's root: a checkout, or its installed copy for the commands that
        # judge a repository's store (gate, history, find, equivalence, run).
        require_checkout(chosen if chosen in CHECKOUT_ONLY else None)
        return int(args.run(args))
    except BenchError as e:  # only the harness's own: any other exception is a bug, and keeps its traceback
        print(f"{prog} {chosen}: error: {e}", file=sys.stderr)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print(f"{prog} {chosen}: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
