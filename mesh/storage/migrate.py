"""Applies a service's Alembic migrations, safely with several instances starting at once.

Each service keeps its own history in ``<service>/migrations``; there is no alembic.ini,
the configuration is built here. ``python -m mesh.storage.migrate`` upgrades every service's database
(``make migrate``).
"""

from __future__ import annotations

import asyncio
import zlib
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from mesh.storage.engine import engine_url_and_args

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "order_svc": "OMS_ORDER_DATABASE_URL",
    "inventory_svc": "OMS_INVENTORY_DATABASE_URL",
    "notify_svc": "OMS_NOTIFY_DATABASE_URL",
    "payment_svc": "OMS_PAYMENT_DATABASE_URL",
}


def alembic_config(service: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / service / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


async def upgrade(service: str, database_url: str) -> None:
    # Alembic's command API is synchronous; the env below runs its own event loop in the thread.
    await asyncio.to_thread(command.upgrade, alembic_config(service, database_url), "head")


def run_env() -> None:
    """Body of every service's ``migrations/env.py`` (online mode only)."""
    asyncio.run(_run_online(context.config.attributes["database_url"]))


async def _run_online(database_url: str) -> None:
    # The same TLS as the service's own engine (sslmode & co. in the URL, see mesh.storage.engine).
    url, tls_args = engine_url_and_args(database_url)
    engine = create_async_engine(url, connect_args=tls_args)
    try:
        async with engine.connect() as conn:
            # Instances starting together queue here instead of racing on DDL.
            lock = zlib.crc32(b"oms-migrations")
            await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock})
            try:
                await conn.run_sync(_migrate)
                await conn.commit()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock})
                await conn.commit()
    finally:
        await engine.dispose()


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    import os
    import sys

    for service, variable in SERVICES.items():
        url = os.environ.get(variable)
        if not url:
            raise SystemExit(f"{variable} is not set (see `scripts/infra env`)")
        asyncio.run(upgrade(service, url))
        sys.stdout.write(f"{service}: migrated\n")


if __name__ == "__main__":
    main()
