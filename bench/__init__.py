"""Benchmarks: ``python -m bench <sweep|chaos> ... --json``; each prints one JSON object."""
