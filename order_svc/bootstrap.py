"""The composition root: connections, dependencies, servicers, consumer, relay, workers.

Nothing connects here: pools and clients connect on first use or when the process starts its
producer; the process's ``on_close`` releases them all. ``build_dependencies`` makes the ports the
handlers use (a test hands in fakes); ``bootstrap`` makes the process.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TypedDict, Unpack

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mesh.auth.service_identity import service_channel
from mesh.auth.tls import MeshTls, channel
from mesh.messaging.kafka import EventConsumer, KafkaProducer, Topics
from mesh.messaging.operations import service_operations
from mesh.messaging.relay import OutboxRelay
from mesh.resilience.breaker import CircuitBreaker
from mesh.resilience.client_policy import channel_options
from mesh.serving.server import ServiceProcess, Worker
from mesh.serving.service_process import service_process
from mesh.serving.stream_slots import StreamSlots
from mesh.storage.cache import Cache
from mesh.storage.engine import asyncpg_dsn, service_engine, session_factory
from mesh.storage.paging import PageTokens
from oms.order.v1 import customer_pb2, customer_pb2_grpc, operations_pb2, operations_pb2_grpc, order_pb2, order_pb2_grpc
from order_svc.adapters.inventory_client import INVENTORY_SERVICES, InventoryClient
from order_svc.adapters.metrics import PrometheusMetrics, count_watches
from order_svc.adapters.order_cache import RedisOrderCache
from order_svc.adapters.price_book import PriceBook
from order_svc.adapters.topics import INVENTORY, PAYMENTS
from order_svc.adapters.unit_of_work import SqlUnitOfWork
from order_svc.adapters.watch_hub import WatchHub
from order_svc.entrypoints import workers
from order_svc.entrypoints.customer_servicer import CustomerServicer
from order_svc.entrypoints.event_handlers import consumer_spec
from order_svc.entrypoints.order_servicer import OrderServicer
from order_svc.service_layer import ports
from order_svc.service_layer.lifecycle import read_order
from order_svc.service_layer.ports import Dependencies
from order_svc.service_layer.watching import OrderFeeds, Watching
from order_svc.settings import Config, OrderSettings

SERVICE = "order_svc"
CONSUMER_GROUP = "order-svc"
# Every Redis key of this service starts with this.
KEY_PREFIX = "oms:order:"
SERVICES = (
    order_pb2.DESCRIPTOR.services_by_name["OrderService"],
    customer_pb2.DESCRIPTOR.services_by_name["CustomerService"],
    operations_pb2.DESCRIPTOR.services_by_name["OrderOperationsService"],
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
    # To inventory, for prices and the stock pre-check.
    inventory_channel: grpc.aio.Channel

    async def close(self) -> None:
        await self.producer.stop()
        await self.inventory_channel.close()
        await self.cache.close()
        await self.engine.dispose()


def build_connections(config: Config) -> Connections:
    settings = config.service
    engine = service_engine(settings)
    return Connections(
        engine=engine,
        sessions=session_factory(engine),
        cache=Cache.from_settings(config.redis, service=SERVICE, key_prefix=KEY_PREFIX),
        producer=KafkaProducer(config.kafka, client_id=SERVICE),
        topics=Topics(config.kafka.topic_prefix),
        # CheckStock is internal: order_svc calls inventory with a token of its own, not its
        # caller's (and, with mTLS on, with its own certificate, which inventory's allowed list names).
        # The address may name several inventory replicas: balanced, health-checked, reads retried.
        inventory_channel=service_channel(
            channel(
                settings.inventory_addr,
                MeshTls.from_settings(config.tls),
                options=channel_options(INVENTORY_SERVICES),
            ),
            config.auth,
            SERVICE,
        ),
    )


def _sql_units_of_work(connections: Connections) -> ports.UnitOfWorkFactory:
    def unit_of_work() -> ports.UnitOfWork:
        return SqlUnitOfWork(connections.sessions, connections.topics)

    return unit_of_work


def _inventory(connections: Connections, settings: OrderSettings) -> InventoryClient:
    breaker = CircuitBreaker(failure_threshold=settings.breaker_failures, reset_after_s=settings.breaker_reset_s)
    return InventoryClient(connections.inventory_channel, deadline_s=settings.precheck_deadline_s, breaker=breaker)


class PortOverrides(TypedDict, total=False):
    """Ports a caller (a test) hands in instead of the ones built here: fakes, spies."""

    uow: ports.UnitOfWorkFactory
    inventory: ports.Inventory
    cache: ports.OrderCache
    price_book: ports.PriceBook
    metrics: ports.Metrics


def build_dependencies(
    config: Config, *, connections: Connections | None = None, **overrides: Unpack[PortOverrides]
) -> Dependencies:
    """The ports the handlers use; each override replaces one.

    ``connections``: the pool, Redis client and inventory channel of the SQL unit of work, the
    order cache and the inventory client; whoever passes them closes them (bootstrap does at
    close). Without them, the ports that need them get connections of their own, which live as
    long as the process.
    """
    uow, inventory, cache = overrides.get("uow"), overrides.get("inventory"), overrides.get("cache")
    if uow is None or inventory is None or cache is None:
        conn = connections or build_connections(config)
        uow = uow or _sql_units_of_work(conn)
        inventory = inventory or _inventory(conn, config.service)
        cache = cache or RedisOrderCache(conn.cache)
    return Dependencies(
        uow=uow,
        inventory=inventory,
        cache=cache,
        price_book=overrides.get("price_book") or PriceBook(),
        metrics=overrides.get("metrics") or PrometheusMetrics(),
        stock_precheck=config.service.stock_precheck,
    )


def _watching(config: Config, deps: Dependencies) -> tuple[Watching, WatchHub]:
    """WatchOrder's shared feeds (woken by the hub's LISTEN connection) and its stream caps."""
    settings = config.service
    hub = WatchHub(asyncpg_dsn(settings.database_url))
    watching = Watching(
        feeds=OrderFeeds(partial(read_order, deps=deps), hub, refresh_s=settings.watch_refresh_s),
        slots=StreamSlots(
            max_total=settings.watch_max_streams,
            max_per_key=settings.watch_max_per_principal,
            what="WatchOrder streams",
        ),
        max_lifetime_s=settings.watch_max_lifetime_s,
    )
    count_watches(lambda: watching.slots.total, lambda: len(watching.feeds))
    return watching, hub


def bootstrap(
    config: Config, *, connections: Connections | None = None, **overrides: Unpack[PortOverrides]
) -> ServiceProcess:
    """The process ``python -m order_svc`` serves. A test may hand in the connections (to read
    the same database beside it; it closes them) and ports (``build_dependencies``)."""
    settings = config.service
    conn = connections or build_connections(config)
    deps = build_dependencies(config, connections=conn, **overrides)
    page_tokens = PageTokens.from_settings(config.paging)
    watching, hub = _watching(config, deps)
    consumed = [conn.topics.name(INVENTORY), conn.topics.name(PAYMENTS)]
    spec = consumer_spec(deps, group_id=settings.group_id(CONSUMER_GROUP), topics=consumed)
    operations = service_operations(
        operations_pb2_grpc.OrderOperationsServiceServicer, config.kafka, spec, conn.producer, conn.engine, page_tokens
    )

    def register(server: grpc.aio.Server) -> None:
        order_pb2_grpc.add_OrderServiceServicer_to_server(OrderServicer(deps, watching, page_tokens), server)
        customer_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerServicer(deps, page_tokens), server)
        operations_pb2_grpc.add_OrderOperationsServiceServicer_to_server(operations, server)

    loops: list[Worker] = [hub.run]
    if settings.run_relay:
        relay = OutboxRelay(dsn=asyncpg_dsn(settings.database_url), producer=conn.producer, source=f"/{SERVICE}")
        loops.append(relay.run)
    if settings.run_workers:
        loops += [
            EventConsumer(config.kafka, spec, dlq_producer=conn.producer).run,
            workers.unpaid_sweeper(
                deps, payment_timeout_s=settings.payment_timeout_s, interval_s=settings.sweep_interval_s
            ),
            workers.pending_watch(
                deps, incident_after_s=settings.pending_incident_after_s, interval_s=settings.pending_check_interval_s
            ),
        ]
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
