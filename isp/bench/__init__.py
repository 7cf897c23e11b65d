"""benchmark.py's modes and what they share (docs/benchmarks.md)."""
