"""`python -m edge.bench`: the real pipeline on a deterministic clip, measured per stage, per detector and per
thread count, each configuration in a fresh worker process (`edge.bench.worker`) so memory and start-up of one
configuration never leak into another. See docs/BENCHMARKS.md."""
