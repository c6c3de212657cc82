"""``python -m notify_svc``: settings, migrations, metrics, then serve until SIGTERM.

Exit status 2 with one line on stderr when a setting is bad or the database cannot be reached.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from prometheus_client import start_http_server

from mesh.db import DatabaseUnreachable, check_reachable
from mesh.kafka import ensure_topics
from mesh.logs import configure_logging
from mesh.migrate import upgrade
from mesh.server import serve
from mesh.settings import KafkaSettings, SettingsError, load
from notify_svc.bootstrap import build
from notify_svc.settings import NotifySettings

log = logging.getLogger("notify_svc")
EXIT_CONFIG = 2


def main() -> int:
    try:
        settings = load(NotifySettings)
        kafka = load(KafkaSettings)
    except SettingsError as exc:
        sys.stderr.write(f"notify-svc: {exc}\n")
        return EXIT_CONFIG
    configure_logging("notify-svc", fmt=settings.log_format, level=settings.log_level)
    try:
        asyncio.run(run(settings, kafka))
    except DatabaseUnreachable as exc:
        sys.stderr.write(f"notify-svc: {exc}\n")
        return EXIT_CONFIG
    return 0


async def run(settings: NotifySettings, kafka: KafkaSettings) -> None:
    app = build(settings, kafka)
    try:
        await check_reachable(app.engine, variable="OMS_NOTIFY_DATABASE_URL")
    except DatabaseUnreachable:
        await app.engine.dispose()
        raise
    if settings.migrate_on_start:
        await upgrade("notify_svc", settings.database_url)
    if settings.run_workers:
        await _ensure_topics(kafka)
    if settings.metrics_port > 0:
        start_http_server(settings.metrics_port, addr=settings.grpc_host)
    await serve(app.process)


async def _ensure_topics(kafka: KafkaSettings) -> None:
    # The broker never auto-creates topics; a consumer subscribed to a missing one would sit idle.
    try:
        await ensure_topics(kafka, timeout_s=15)
    except Exception as exc:  # noqa: BLE001 - Kafka may come later; the consumer keeps retrying
        log.warning("could not ensure Kafka topics", extra={"error": str(exc)})


if __name__ == "__main__":
    sys.exit(main())
