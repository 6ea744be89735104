"""Benchmarks against the limits: `python -m bench` (see bench/__main__.py)."""
