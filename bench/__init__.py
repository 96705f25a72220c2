"""Benchmarks: `python -m bench` prints one table over all pipelines (each against the plain library call it
wraps); each module prints its tab's detailed table (python -m bench.<name>)."""
