"""The order service's one composition root: builds every client, connects nothing at import.

Long-running loops live in ``entrypoints.workers``; this module only wires them.
"""

from __future__ import annotations

import logging
from functools import partial

import grpc

from mesh.auth.authorization import rules_of
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.service_identity import service_channel
from mesh.auth.tls import MeshTls, channel, server_interceptors
from mesh.auth.verification import TokenVerifier
from mesh.messaging.dead_letters import DeadLetters, EventTypes
from mesh.messaging.kafka import ConsumerSpec, EventConsumer, KafkaProducer, Topics
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
from order_svc.adapters.metrics import WATCH_STREAMS, WATCHED_ORDERS
from order_svc.adapters.order_cache import RedisOrderCache
from order_svc.adapters.topics import INVENTORY, PAYMENTS
from order_svc.adapters.watch_hub import WatchHub
from order_svc.entrypoints import workers
from order_svc.entrypoints.customer_servicer import CustomerServicer
from order_svc.entrypoints.event_handlers import event_handlers
from order_svc.entrypoints.order_servicer import OrderServicer
from order_svc.service_layer.lifecycle import read_order
from order_svc.service_layer.ports import OrderDeps, OrderUnitOfWork
from order_svc.service_layer.watching import OrderFeeds, Watching
from order_svc.settings import Config

log = logging.getLogger(__name__)
SERVICE = "order_svc"
CONSUMER_GROUP = "order-svc"
SERVICES = (
    order_pb2.DESCRIPTOR.services_by_name["OrderService"],
    customer_pb2.DESCRIPTOR.services_by_name["CustomerService"],
    operations_pb2.DESCRIPTOR.services_by_name["OrderOperationsService"],
)


def bootstrap(config: Config) -> ServiceProcess:
    """The process ``python -m order_svc`` serves: gRPC services, consumer, relay and workers."""
    settings = config.service
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        lock_timeout_s=settings.db_lock_timeout_s,
        statement_timeout_s=settings.db_statement_timeout_s,
    )
    sessions = session_factory(engine)
    topics = Topics(config.kafka.topic_prefix)
    producer = KafkaProducer(config.kafka, client_id=SERVICE)
    tls = MeshTls.from_settings(config.tls)
    # CheckStock is internal: order_svc calls inventory with a token of its own, not its caller's
    # (and, with mTLS on, with its own certificate, which inventory's allowed list names).
    inventory_channel = service_channel(channel(settings.inventory_addr, tls), config.auth, SERVICE)
    cache = Cache.from_settings(config.redis, service=SERVICE, key_prefix="oms:order:")
    deps = OrderDeps(
        uow=lambda: OrderUnitOfWork(sessions),
        topics=topics,
        inventory=InventoryClient(
            inventory_channel,
            deadline_s=settings.precheck_deadline_s,
            breaker=CircuitBreaker(failure_threshold=settings.breaker_failures, reset_after_s=settings.breaker_reset_s),
        ),
        cache=RedisOrderCache(cache),
        stock_precheck=settings.stock_precheck,
    )
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
    WATCH_STREAMS.set_function(lambda: watching.slots.total)
    WATCHED_ORDERS.set_function(lambda: len(watching.feeds))

    handlers = event_handlers(deps)
    consumed = [topics.name(INVENTORY), topics.name(PAYMENTS)]
    operations = operations_servicer(
        operations_pb2_grpc.OrderOperationsServiceServicer,
        DeadLetters(
            config.kafka,
            consumed,
            EventTypes.of(handlers),
            producer,
            consumer_group=settings.group_id(CONSUMER_GROUP),
        ),
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
        consumer = EventConsumer(
            config.kafka,
            ConsumerSpec(
                group_id=settings.group_id(CONSUMER_GROUP),
                topics=consumed,
                handlers=handlers,
            ),
            dlq_producer=producer,
        )
        running += [
            consumer.run,
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
