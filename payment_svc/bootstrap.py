"""The composition root: connections, dependencies, servicers, consumer, relay, workers.

Nothing connects here: pools and clients connect on first use or when the process starts its
producer; the process's ``on_close`` releases them all. The only place that knows which payment
provider adapter is used (``OMS_PAYMENT_PROVIDER``).
"""

from __future__ import annotations

import logging
import os
import signal
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mesh.messaging.kafka import ConsumerSpec, EventConsumer, KafkaProducer, Topics
from mesh.messaging.operations import service_operations
from mesh.messaging.relay import OutboxRelay
from mesh.serving.server import ServiceProcess, Worker
from mesh.serving.service_process import service_process
from mesh.settings.common import SettingsError
from mesh.storage.engine import asyncpg_dsn, service_engine, session_factory
from mesh.storage.paging import PageTokens
from oms.payment.v1 import operations_pb2, operations_pb2_grpc, payment_pb2, payment_pb2_grpc
from payment_svc.adapters.metrics import PrometheusMetrics
from payment_svc.adapters.simulated_provider import SimulatedProvider
from payment_svc.adapters.unit_of_work import SqlUnitOfWork
from payment_svc.entrypoints import workers
from payment_svc.entrypoints.event_handlers import consumer_spec
from payment_svc.entrypoints.grpc_servicer import PaymentServicer
from payment_svc.service_layer.ports import (
    Clock,
    Dependencies,
    Failpoint,
    Metrics,
    StepPolicy,
    UnitOfWork,
    UnitOfWorkFactory,
)
from payment_svc.service_layer.provider import PaymentProvider
from payment_svc.settings import Config, PaymentSettings

log = logging.getLogger(__name__)

# Package name: the migrations' home (mesh.storage.migrate), the logs' and metrics' service name.
SERVICE = "payment_svc"
# The Kafka consumer group (tests suffix it); the inbox name is adapters.unit_of_work.CONSUMER.
CONSUMER_GROUP = "payment-svc"
SERVICES = (
    payment_pb2.DESCRIPTOR.services_by_name["PaymentService"],
    operations_pb2.DESCRIPTOR.services_by_name["PaymentOperationsService"],
)


@dataclass(frozen=True)
class Connections:
    """The pools and clients one process holds: built (not connected) by ``build_connections``,
    released by ``close`` (the process's on_close)."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    producer: KafkaProducer
    topics: Topics

    async def close(self) -> None:
        await self.producer.stop()
        await self.engine.dispose()


def build_connections(config: Config) -> Connections:
    engine = service_engine(config.service)
    return Connections(
        engine=engine,
        sessions=session_factory(engine),
        producer=KafkaProducer(config.kafka, client_id=SERVICE),
        topics=Topics(config.kafka.topic_prefix),
    )


def _sql_units_of_work(connections: Connections) -> UnitOfWorkFactory:
    def unit_of_work() -> UnitOfWork:
        return SqlUnitOfWork(connections.sessions, connections.topics)

    return unit_of_work


def payment_provider(settings: PaymentSettings) -> PaymentProvider:
    """The adapter ``OMS_PAYMENT_PROVIDER`` names; Stripe's SDK is imported only when chosen."""
    if settings.provider == "stripe":
        key = settings.stripe_api_key.get_secret_value()
        if not key:
            raise SettingsError("OMS_PAYMENT_STRIPE_API_KEY must be set when OMS_PAYMENT_PROVIDER=stripe")
        from payment_svc.adapters.stripe_provider import StripeProvider

        provider: PaymentProvider = StripeProvider(
            api_key=key, api_base=settings.stripe_api_base or None, timeout_s=settings.provider_timeout_s
        )
        return provider
    return SimulatedProvider(settings.simulated_ledger, slow_s=settings.simulated_slow_s)


def step_policy(settings: PaymentSettings) -> StepPolicy:
    return StepPolicy(
        timeout=timedelta(seconds=settings.provider_timeout_s),
        retry_base=timedelta(seconds=settings.retry_base_s),
        retry_max=timedelta(seconds=settings.retry_max_s),
        lease=timedelta(seconds=settings.claim_lease_s),
    )


def failpoint(settings: PaymentSettings) -> Failpoint:
    """Test-only: ``OMS_PAYMENT_FAILPOINT=<point>`` kills the process there, as kill -9 would."""
    armed = settings.failpoint

    def crash_at(point: str) -> None:
        if armed and point == armed:
            log.warning("failpoint reached: killing the process", extra={"failpoint": point})
            os.kill(os.getpid(), signal.SIGKILL)

    return crash_at


class PortOverrides(TypedDict, total=False):
    """Ports a caller (a test) hands in instead of the ones built here: fakes, spies."""

    uow: UnitOfWorkFactory
    provider: PaymentProvider
    metrics: Metrics
    clock: Clock
    page_tokens: PageTokens


def build_dependencies(
    config: Config, *, connections: Connections | None = None, **overrides: Unpack[PortOverrides]
) -> Dependencies:
    """The ports the handlers use; each override replaces one.

    ``connections``: the pool of the SQL unit of work; whoever passes them closes them (bootstrap
    does at close). Without them (and without ``uow``) the unit of work gets a pool of its own,
    which lives as long as the process.
    """
    settings = config.service
    uow = overrides.get("uow") or _sql_units_of_work(connections or build_connections(config))
    return Dependencies(
        uow=uow,
        provider=overrides.get("provider") or payment_provider(settings),
        clock=overrides.get("clock") or (lambda: datetime.now(UTC)),
        metrics=overrides.get("metrics") or PrometheusMetrics(),
        policy=step_policy(settings),
        failpoint=failpoint(settings),
    )


def event_consumer_spec(config: Config, conn: Connections, deps: Dependencies) -> ConsumerSpec:
    return consumer_spec(conn.topics, config.service.group_id(CONSUMER_GROUP), deps)


def event_consumer(config: Config, conn: Connections, deps: Dependencies) -> EventConsumer:
    """Reads order and inventory events; poison is dead-lettered through the process's producer."""
    return EventConsumer(config.kafka, event_consumer_spec(config, conn, deps), dlq_producer=conn.producer)


def outbox_relay(config: Config, conn: Connections) -> OutboxRelay:
    return OutboxRelay(dsn=asyncpg_dsn(config.service.database_url), producer=conn.producer, source=f"/{SERVICE}")


def bootstrap(
    config: Config, *, connections: Connections | None = None, **overrides: Unpack[PortOverrides]
) -> ServiceProcess:
    """The process ``python -m payment_svc`` serves. A test may hand in the connections (to
    read the same database beside it; it closes them) and ports (``build_dependencies``)."""
    settings = config.service
    conn = connections or build_connections(config)
    deps = build_dependencies(config, connections=conn, **overrides)
    tokens = overrides.get("page_tokens") or PageTokens.from_settings(config.paging)
    servicer = PaymentServicer(deps, tokens)
    operations = service_operations(
        operations_pb2_grpc.PaymentOperationsServiceServicer,
        config.kafka,
        event_consumer_spec(config, conn, deps),
        conn.producer,
        conn.engine,
        tokens,
    )

    def register(server: grpc.aio.Server) -> None:
        payment_pb2_grpc.add_PaymentServiceServicer_to_server(servicer, server)
        operations_pb2_grpc.add_PaymentOperationsServiceServicer_to_server(operations, server)

    loops: list[Worker] = []
    if settings.run_relay:
        loops.append(workers.outbox_relay(outbox_relay(config, conn), conn.producer))
    if settings.run_workers:
        loops.append(workers.payment_events(event_consumer(config, conn, deps), conn.producer))
        loops.append(workers.reconciler(deps, poll_s=settings.reconcile_poll_s))
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
