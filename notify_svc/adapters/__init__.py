"""Implementations of the service layer's ports: PostgreSQL, SMTP, Prometheus."""
