"""Seeing what runs: tracing, the OTLP encoder, RED metrics, logs."""
