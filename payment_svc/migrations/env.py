"""Alembic environment of the payment service (all of it lives in mesh.storage.migrate)."""

from mesh.storage.migrate import run_env

run_env()
