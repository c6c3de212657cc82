"""``python -m inventory_svc``: load settings, migrate, ensure topics, run workers, serve.

Exits with status 2 and one line on stderr when a setting is bad or the database is unreachable.
"""

from __future__ import annotations

import asyncio
import sys

from prometheus_client import start_http_server

from inventory_svc.bootstrap import bootstrap
from inventory_svc.settings import InventorySettings
from mesh.db import DatabaseUnreachable, check_reachable
from mesh.kafka import ensure_topics
from mesh.logs import configure_logging
from mesh.migrate import upgrade
from mesh.server import serve
from mesh.settings import KafkaSettings, RedisSettings, SettingsError, load

DATABASE_VARIABLE = "OMS_INVENTORY_DATABASE_URL"


async def run(settings: InventorySettings, kafka: KafkaSettings, redis: RedisSettings) -> None:
    app = bootstrap(settings, kafka, redis)
    try:
        await check_reachable(app.engine, variable=DATABASE_VARIABLE)
        if settings.migrate_on_start:
            await upgrade("inventory_svc", settings.database_url)
        if settings.run_workers:
            await ensure_topics(kafka)
        if settings.metrics_port:
            start_http_server(settings.metrics_port, addr=settings.grpc_host)
        await app.start()
    except BaseException:
        await app.close()
        raise
    # serve() closes the app (on_close) after draining.
    await serve(app.process())


def main() -> int:
    try:
        settings = load(InventorySettings)
        kafka = load(KafkaSettings)
        redis = load(RedisSettings)
    except SettingsError as exc:
        sys.stderr.write(f"inventory-svc: {exc}\n")
        return 2
    configure_logging("inventory-svc", fmt=settings.log_format, level=settings.log_level)
    try:
        asyncio.run(run(settings, kafka, redis))
    except DatabaseUnreachable as exc:
        sys.stderr.write(f"inventory-svc: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
