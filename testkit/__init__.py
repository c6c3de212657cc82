"""The process harness and infra helpers that the test suites and the benchmarks share."""
