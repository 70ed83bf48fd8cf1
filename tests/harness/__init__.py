"""Tests of the harness: the gate, history, find, the report, the installed tool, the CLI and the docs."""
