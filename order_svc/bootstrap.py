"""The order service's one composition root: builds every adapter and wires it to the handlers.

Nothing connects at import. ``build_dependencies`` makes the ports the handlers use (tests swap
any of them); ``bootstrap`` makes the process: servicers, consumer, relay, workers, interceptors.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.auth.authorization import rules_of
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.service_identity import service_channel
from mesh.auth.tls import MeshTls, channel, server_interceptors
from mesh.auth.verification import TokenVerifier
from mesh.messaging.dead_letters import DeadLetters, EventTypes
from mesh.messaging.kafka import EventConsumer, KafkaProducer, Topics
from mesh.messaging.operations import operations_servicer
from mesh.messaging.parked import SqlParkedEvents
from mesh.messaging.relay import OutboxRelay
from mesh.resilience.breaker import CircuitBreaker
from mesh.serving.server import ServiceProcess, Worker
from mesh.serving.stream_slots import StreamSlots
from mesh.storage.cache import Cache
from mesh.storage.engine import asyncpg_dsn, create_engine, session_factory
from mesh.storage.paging import PageTokens
from oms.order.v1 import customer_pb2, customer_pb2_grpc, operations_pb2, operations_pb2_grpc, order_pb2, order_pb2_grpc
from order_svc.adapters.inventory_client import InventoryClient
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


def database(settings: OrderSettings) -> AsyncEngine:
    return create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        lock_timeout_s=settings.db_lock_timeout_s,
        statement_timeout_s=settings.db_statement_timeout_s,
    )


def inventory_client(channel: grpc.aio.Channel, settings: OrderSettings) -> InventoryClient:
    breaker = CircuitBreaker(failure_threshold=settings.breaker_failures, reset_after_s=settings.breaker_reset_s)
    return InventoryClient(channel, deadline_s=settings.precheck_deadline_s, breaker=breaker)


def build_dependencies(
    config: Config,
    *,
    engine: AsyncEngine | None = None,
    uow: Callable[[], ports.UnitOfWork] | None = None,
    inventory: ports.Inventory | None = None,
    cache: ports.OrderCache | None = None,
    price_book: ports.PriceBook | None = None,
    metrics: ports.Metrics | None = None,
) -> Dependencies:
    """The ports the handlers use; each override replaces one (tests: fakes, a test database).

    ``engine``: the pool the units of work use; whoever passes it disposes of it (bootstrap does
    at close). ``inventory`` and ``cache``, when not given, open a channel and a Redis client that
    live as long as the process (bootstrap passes its own, which it closes).
    """
    settings = config.service
    if uow is None:
        sessions = session_factory(engine or database(settings))
        topics = Topics(config.kafka.topic_prefix)

        def uow() -> ports.UnitOfWork:
            return SqlUnitOfWork(sessions, topics)

    if inventory is None:
        tls = MeshTls.from_settings(config.tls)
        inventory = inventory_client(
            service_channel(channel(settings.inventory_addr, tls), config.auth, SERVICE), settings
        )
    if cache is None:
        cache = RedisOrderCache(Cache.from_settings(config.redis, service=SERVICE, key_prefix=KEY_PREFIX))
    return Dependencies(
        uow=uow,
        inventory=inventory,
        cache=cache,
        price_book=price_book or PriceBook(),
        metrics=metrics or PrometheusMetrics(),
        stock_precheck=settings.stock_precheck,
    )


def bootstrap(config: Config, **overrides: Any) -> ServiceProcess:
    """The process ``python -m order_svc`` serves. ``overrides`` go to ``build_dependencies``."""
    settings = config.service
    engine = database(settings)
    topics = Topics(config.kafka.topic_prefix)
    producer = KafkaProducer(config.kafka, client_id=SERVICE)
    tls = MeshTls.from_settings(config.tls)
    # CheckStock is internal: order_svc calls inventory with a token of its own, not its caller's
    # (and, with mTLS on, with its own certificate, which inventory's allowed list names).
    inventory_channel = service_channel(channel(settings.inventory_addr, tls), config.auth, SERVICE)
    cache = Cache.from_settings(config.redis, service=SERVICE, key_prefix=KEY_PREFIX)
    # The process's own pool, channel and Redis client, which close() releases; a test's override wins.
    own: dict[str, Any] = {
        "engine": engine,
        "inventory": inventory_client(inventory_channel, settings),
        "cache": RedisOrderCache(cache),
    }
    deps = build_dependencies(config, **(own | overrides))
    hub = WatchHub(asyncpg_dsn(settings.database_url))
    page_tokens = PageTokens.from_settings(config.paging)
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

    consumed = [topics.name(INVENTORY), topics.name(PAYMENTS)]
    spec = consumer_spec(deps, group_id=settings.group_id(CONSUMER_GROUP), topics=consumed)
    operations = operations_servicer(
        operations_pb2_grpc.OrderOperationsServiceServicer,
        DeadLetters(config.kafka, consumed, EventTypes.of(spec.handlers), producer, consumer_group=spec.group_id),
        SqlParkedEvents(engine),
        page_tokens,
    )

    def register(server: grpc.aio.Server) -> None:
        order_pb2_grpc.add_OrderServiceServicer_to_server(OrderServicer(deps, watching, page_tokens), server)
        customer_pb2_grpc.add_CustomerServiceServicer_to_server(CustomerServicer(deps, page_tokens), server)
        operations_pb2_grpc.add_OrderOperationsServiceServicer_to_server(operations, server)

    running: list[Worker] = [hub.run]
    if settings.run_relay:
        relay = OutboxRelay(dsn=asyncpg_dsn(settings.database_url), producer=producer, source=f"/{SERVICE}")
        running.append(relay.run)
    if settings.run_workers:
        running += [
            EventConsumer(config.kafka, spec, dlq_producer=producer).run,
            workers.unpaid_sweeper(
                deps, payment_timeout_s=settings.payment_timeout_s, interval_s=settings.sweep_interval_s
            ),
            workers.pending_watch(
                deps, incident_after_s=settings.pending_incident_after_s, interval_s=settings.pending_check_interval_s
            ),
        ]

    async def close() -> None:
        await producer.stop()
        await inventory_channel.close()
        await cache.close()
        await engine.dispose()

    return ServiceProcess(
        name=SERVICE,
        host=settings.grpc_host,
        port=settings.grpc_port,
        service_names=[service.full_name for service in SERVICES],
        register=register,
        workers=running,
        interceptors=[
            *server_interceptors(tls, settings.tls_allowed_clients),
            AuthServerInterceptor(TokenVerifier(config.auth), rules_of(SERVICES)),
        ],
        tls=tls,
        on_close=[close],
        on_start=[producer.start],
        grace_s=settings.shutdown_grace_s,
        max_calls_per_principal=settings.max_concurrent_calls_per_principal,
    )
