"""Seeing what runs: tracing, the OTLP encoder, RED metrics, logs, and the one reading of a call's gRPC status."""
