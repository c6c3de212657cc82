"""The composition root: connections, dependencies, servicers, consumer, relay, workers.

Nothing connects here: pools and clients connect on first use or when the process starts its
producer; the process's ``on_close`` releases them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict, Unpack

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from inventory_svc.adapters.catalog_cache import RedisCatalogCache
from inventory_svc.adapters.metrics import PrometheusMetrics
from inventory_svc.adapters.unit_of_work import SqlUnitOfWork
from inventory_svc.entrypoints import workers
from inventory_svc.entrypoints.event_handlers import consumer_spec
from inventory_svc.entrypoints.grpc_servicer import InventoryServicer
from inventory_svc.service_layer.ports import CatalogCache, Dependencies, Metrics, UnitOfWork, UnitOfWorkFactory
from inventory_svc.settings import Config
from mesh.messaging.kafka import ConsumerSpec, EventConsumer, KafkaProducer, Topics
from mesh.messaging.operations import service_operations
from mesh.messaging.relay import OutboxRelay
from mesh.serving.server import ServiceProcess, Worker
from mesh.serving.service_process import service_process
from mesh.storage.cache import Cache
from mesh.storage.engine import asyncpg_dsn, service_engine, session_factory
from mesh.storage.paging import PageTokens
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc, operations_pb2, operations_pb2_grpc

# Package name: the migrations' home (mesh.storage.migrate), the logs' and metrics' service name.
SERVICE = "inventory_svc"
CONSUMER_GROUP = "inventory-svc"
SERVICES = (
    inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"],
    operations_pb2.DESCRIPTOR.services_by_name["InventoryOperationsService"],
)


@dataclass(frozen=True)
class Connections:
    """The pools and clients one process holds: built (not connected) by ``build_connections``,
    released by ``close`` (the process's on_close)."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    cache: Cache
    producer: KafkaProducer
    topics: Topics

    async def close(self) -> None:
        await self.producer.stop()
        await self.cache.close()
        await self.engine.dispose()


def build_connections(config: Config) -> Connections:
    settings = config.service
    engine = service_engine(settings)
    cache = Cache.from_settings(
        config.redis, service=SERVICE, key_prefix=settings.cache_key_prefix, breaker_s=settings.cache_breaker_s
    )
    return Connections(
        engine=engine,
        sessions=session_factory(engine),
        cache=cache,
        producer=KafkaProducer(config.kafka, client_id=SERVICE),
        topics=Topics(config.kafka.topic_prefix),
    )


def _sql_units_of_work(connections: Connections) -> UnitOfWorkFactory:
    def unit_of_work() -> UnitOfWork:
        return SqlUnitOfWork(connections.sessions, connections.topics)

    return unit_of_work


class PortOverrides(TypedDict, total=False):
    """Ports a caller (a test) hands in instead of the ones built here: fakes, spies."""

    uow: UnitOfWorkFactory
    catalog_cache: CatalogCache
    page_tokens: PageTokens
    metrics: Metrics


def build_dependencies(
    config: Config, *, connections: Connections | None = None, **overrides: Unpack[PortOverrides]
) -> Dependencies:
    """The ports the handlers use; each override replaces one.

    ``connections``: the pool and Redis client of the SQL unit of work and the Redis cache;
    whoever passes them closes them (bootstrap does at close). Without them, the ports that
    need them get connections of their own, which live as long as the process.
    """
    uow, catalog_cache = overrides.get("uow"), overrides.get("catalog_cache")
    if uow is None or catalog_cache is None:
        conn = connections or build_connections(config)
        uow = uow or _sql_units_of_work(conn)
        catalog_cache = catalog_cache or RedisCatalogCache(conn.cache)
    return Dependencies(
        uow=uow,
        catalog_cache=catalog_cache,
        page_tokens=overrides.get("page_tokens") or PageTokens.from_settings(config.paging),
        metrics=overrides.get("metrics") or PrometheusMetrics(),
    )


def order_consumer_spec(config: Config, conn: Connections, deps: Dependencies) -> ConsumerSpec:
    return consumer_spec(conn.topics, config.service.group_id(CONSUMER_GROUP), deps)


def order_consumer(config: Config, conn: Connections, deps: Dependencies) -> EventConsumer:
    """Reads order events; poison is dead-lettered through the process's producer."""
    return EventConsumer(config.kafka, order_consumer_spec(config, conn, deps), dlq_producer=conn.producer)


def outbox_relay(config: Config, conn: Connections) -> OutboxRelay:
    return OutboxRelay(dsn=asyncpg_dsn(config.service.database_url), producer=conn.producer, source=f"/{SERVICE}")


def bootstrap(
    config: Config, *, connections: Connections | None = None, **overrides: Unpack[PortOverrides]
) -> ServiceProcess:
    """The process ``python -m inventory_svc`` serves. A test may hand in the connections (to
    read the same database beside it; it closes them) and ports (``build_dependencies``)."""
    settings = config.service
    conn = connections or build_connections(config)
    deps = build_dependencies(config, connections=conn, **overrides)
    servicer = InventoryServicer(deps)
    operations = service_operations(
        operations_pb2_grpc.InventoryOperationsServiceServicer,
        config.kafka,
        order_consumer_spec(config, conn, deps),
        conn.producer,
        conn.engine,
        deps.page_tokens,
    )

    def register(server: grpc.aio.Server) -> None:
        inventory_pb2_grpc.add_InventoryServiceServicer_to_server(servicer, server)
        operations_pb2_grpc.add_InventoryOperationsServiceServicer_to_server(operations, server)

    loops: list[Worker] = []
    if settings.run_relay:
        loops.append(workers.outbox_relay(outbox_relay(config, conn), conn.producer))
    if settings.run_workers:
        loops.append(workers.order_events(order_consumer(config, conn, deps), conn.producer))
    return service_process(
        SERVICE,
        settings,
        services=SERVICES,
        register=register,
        auth=config.auth,
        tls=config.tls,
        workers=loops,
        on_start=[conn.producer.start],
        # Connections handed in belong to the caller, who closes them.
        on_close=[conn.close] if connections is None else [],
    )
