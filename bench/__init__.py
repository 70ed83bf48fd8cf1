"""Benchmarks, statistics, the CI perf gate and the report."""
