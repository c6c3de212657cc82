"""The ``python -m <service>`` entry point every service shares.

Order of start: settings (fail fast, one line naming the variable) → logging → database
reachable (one line naming the URL) → migrations → Kafka topics → metrics endpoint → serve.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import prometheus_client

from mesh.messaging.kafka import ensure_topics
from mesh.serving.server import ServiceProcess, serve
from mesh.settings.common import KafkaSettings, ServiceSettings, SettingsError, load
from mesh.storage.engine import DatabaseUnreachable, check_reachable, create_engine
from mesh.storage.migrate import upgrade
from mesh.telemetry.logs import LogSettings, configure_logging
from mesh.telemetry.tracing import setup_tracing

ConfigT = TypeVar("ConfigT")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceEntry(Generic[ConfigT]):
    name: str
    load_config: Callable[[], ConfigT]
    service_settings: Callable[[ConfigT], ServiceSettings]
    kafka_settings: Callable[[ConfigT], KafkaSettings]
    database_variable: str
    # The topics the service publishes to or consumes from (without the prefix); created at start.
    topics: Sequence[str]
    build: Callable[[ConfigT], ServiceProcess]


def main(entry: ServiceEntry[ConfigT]) -> None:
    try:
        logs = load(LogSettings)
        configure_logging(entry.name, fmt=logs.format, level=logs.level)
        config = entry.load_config()
        asyncio.run(_run(entry, config))
    except (SettingsError, DatabaseUnreachable, ValueError) as exc:
        sys.stderr.write(f"{entry.name}: {exc}\n")
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


async def _run(entry: ServiceEntry[ConfigT], config: ConfigT) -> None:
    settings = entry.service_settings(config)
    setup_tracing(entry.name)
    probe = create_engine(settings.database_url, pool_size=1)
    try:
        await check_reachable(probe, variable=entry.database_variable)
    finally:
        await probe.dispose()
    if settings.migrate_on_start:
        await upgrade(entry.name, settings.database_url)
    await ensure_topics(entry.kafka_settings(config), entry.topics)
    if settings.metrics_port:
        prometheus_client.start_http_server(settings.metrics_port, addr=settings.grpc_host)
    await serve(entry.build(config))
