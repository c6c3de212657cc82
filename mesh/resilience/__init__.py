"""Failing well: retry with backoff, transient-fault classification, circuit breaker."""
