"""Runners: thin adapters that time or count a case (pyperf, callgrind/strace), load a store from git, run suites."""
