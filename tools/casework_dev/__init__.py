"""Development tools: the local stack, the benchmarks, the demo, development tokens and
the test fixtures. Never shipped in the container image; no runtime module imports them
(`make lint` checks both)."""
