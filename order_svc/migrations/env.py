"""Alembic environment of the order service (see mesh.storage.migrate)."""

from mesh.storage.migrate import run_env

run_env()
