"""Same-run baselines: what the subject is compared against (see benchmarks/README in RESULTS.md)."""
