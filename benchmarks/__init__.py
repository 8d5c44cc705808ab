"""Speed, memory and quality benchmarks: python -m benchmarks.<name> (see docs/BENCHMARKS.md)."""
