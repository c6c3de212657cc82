"""Alembic environment of the order service (see mesh.migrate)."""

from mesh.migrate import run_env

run_env()
