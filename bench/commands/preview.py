"""`python -m bench preview [DIR]`: serves a published site on 127.0.0.1 at a free port until Ctrl-C."""

from __future__ import annotations

import argparse
import functools
import http.server
import signal
import sys
from pathlib import Path
from typing import Final

from bench.commands.publish import DEFAULT_OUTPUT
from bench.errors import ExitCode, UsageError
from bench.model import results

HELP: Final = (
    "Serve a site that `publish` wrote, on 127.0.0.1 at a free port (or --port), and print its URL; Ctrl-C stops it."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "site", nargs="?", type=Path, default=DEFAULT_OUTPUT, help=f"default: {results.shown(DEFAULT_OUTPUT)}"
    )
    parser.add_argument("--port", type=int, default=0, help="default: a free one")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would bury the URL


def run(args: argparse.Namespace) -> ExitCode:
    if not (args.site / "index.html").is_file():
        raise UsageError(f"no site at {args.site} (no index.html): run `{results.COMMAND} publish` first")
    handler = functools.partial(_Quiet, directory=str(args.site))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
    except OSError as e:
        raise UsageError(f"cannot serve on 127.0.0.1:{args.port}: {e}") from e
    # Ctrl-C stops it even when started in the background, where a shell leaves SIGINT ignored for its children.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with server:
        port = server.server_address[1]
        print(f"serving {args.site} at http://127.0.0.1:{port}/ (Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
    return ExitCode.OK
