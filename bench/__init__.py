"""Benchmarks: each module prints a Markdown table (python -m bench.<name>)."""
