"""Benchmarks and fault-injection runs; see bench/README.md."""
