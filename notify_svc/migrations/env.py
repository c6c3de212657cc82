"""Alembic environment of the notification service (all of it lives in mesh.migrate)."""

from mesh.migrate import run_env

run_env()
