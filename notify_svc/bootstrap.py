"""The composition root: builds every dependency of one process. Nothing connects at import."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.auth.authorization import rules_of
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.settings import AuthSettings
from mesh.auth.tls import MeshTls, server_interceptors
from mesh.auth.verification import TokenVerifier
from mesh.messaging.dead_letters import DeadLetters, EventTypes
from mesh.messaging.kafka import EventConsumer, KafkaProducer, Topics
from mesh.messaging.operations import operations_servicer
from mesh.messaging.parked import SqlParkedEvents
from mesh.serving.server import ServiceProcess
from mesh.settings.common import KafkaSettings
from mesh.storage.engine import create_engine, session_factory
from mesh.storage.paging import PageTokens
from notify_svc.adapters.email_channel import EmailChannel, SmtpConfig
from notify_svc.adapters.metrics import PrometheusMetrics
from notify_svc.adapters.unit_of_work import SqlUnitOfWork
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.entrypoints.dispatch_worker import DispatchWorker
from notify_svc.entrypoints.event_handlers import consumer_spec
from notify_svc.entrypoints.grpc_servicer import NotificationServicer
from notify_svc.service_layer.delivery import DeliverySettings, Dispatcher
from notify_svc.service_layer.handlers import Dependencies
from notify_svc.service_layer.ports import Channel, DeliveryMetrics, UnitOfWork
from notify_svc.settings import NotifyConfig, NotifySettings
from oms.notify.v1 import notify_pb2, notify_pb2_grpc, operations_pb2, operations_pb2_grpc

SERVICES = (
    notify_pb2.DESCRIPTOR.services_by_name["NotificationService"],
    operations_pb2.DESCRIPTOR.services_by_name["NotifyOperationsService"],
)


@dataclass
class NotifyApp:
    process: ServiceProcess
    deps: Dependencies
    dispatcher: DispatchWorker
    consumer: EventConsumer
    engine: AsyncEngine


def email_channel(settings: NotifySettings) -> EmailChannel:
    return EmailChannel(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            message_id_domain=settings.message_id_domain,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            tls=settings.smtp_tls,
            validate_certs=settings.smtp_validate_certs,
            timeout_s=settings.smtp_timeout_s,
        )
    )


def build(
    settings: NotifySettings,
    kafka: KafkaSettings,
    *,
    channels: Sequence[Channel] | None = None,
    metrics: DeliveryMetrics | None = None,
    auth: AuthSettings | None = None,
    page_tokens: PageTokens | None = None,
    tls: MeshTls | None = None,
) -> NotifyApp:
    engine = create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        lock_timeout_s=settings.db_lock_timeout_s,
        statement_timeout_s=settings.db_statement_timeout_s,
    )
    sessions = session_factory(engine)

    def unit_of_work() -> UnitOfWork:
        return SqlUnitOfWork(sessions)

    wake = asyncio.Event()

    async def wake_dispatcher() -> None:
        wake.set()

    deps = Dependencies(
        uow=unit_of_work,
        channels={c.name: c for c in (channels if channels is not None else [email_channel(settings)])},
        clock=lambda: datetime.now(UTC),
        new_id=lambda: str(uuid.uuid4()),
        metrics=metrics or PrometheusMetrics(),
        wake=wake_dispatcher,
    )
    delivery = DeliverySettings(
        policy=RetryPolicy(settings.max_attempts, settings.retry_base_s, settings.retry_max_s),
        concurrency=settings.dispatch_concurrency,
        lease=timedelta(seconds=settings.claim_lease_s),
    )
    dispatcher = DispatchWorker(Dispatcher(deps, delivery), poll_interval_s=settings.dispatch_poll_s, woken=wake)
    dlq = KafkaProducer(kafka, client_id="notify-svc-dlq")
    spec = consumer_spec(Topics(kafka.topic_prefix), settings.kafka_group_id, deps)
    consumer = EventConsumer(kafka, spec, dlq_producer=dlq)
    # Replays are produced with the same producer, started with the process (start is idempotent).
    tokens = page_tokens or PageTokens.development()
    operations = operations_servicer(
        operations_pb2_grpc.NotifyOperationsServiceServicer,
        DeadLetters(kafka, spec.topics, EventTypes.of(spec.handlers), dlq, consumer_group=spec.group_id),
        SqlParkedEvents(engine),
        tokens,
    )

    async def consume(stop: asyncio.Event) -> None:
        await dlq.start()
        try:
            await consumer.run(stop)
        finally:
            await dlq.stop()

    servicer = NotificationServicer(deps, tokens)

    def register(server: grpc.aio.Server) -> None:
        notify_pb2_grpc.add_NotificationServiceServicer_to_server(servicer, server)
        operations_pb2_grpc.add_NotifyOperationsServiceServicer_to_server(operations, server)

    process = ServiceProcess(
        name="notify-svc",
        host=settings.grpc_host,
        port=settings.grpc_port,
        service_names=[service.full_name for service in SERVICES],
        register=register,
        workers=[consume, dispatcher.run] if settings.run_workers else [],
        # Calling the service's port directly must not skip authentication.
        interceptors=[
            *server_interceptors(tls, settings.tls_allowed_clients),
            *([AuthServerInterceptor(TokenVerifier(auth), rules_of(SERVICES))] if auth is not None else []),
        ],
        tls=tls,
        on_start=[dlq.start],
        on_close=[dlq.stop, engine.dispose],
        grace_s=settings.shutdown_grace_s,
        max_calls_per_principal=settings.max_concurrent_calls_per_principal,
    )
    return NotifyApp(process=process, deps=deps, dispatcher=dispatcher, consumer=consumer, engine=engine)


def build_process(config: NotifyConfig) -> ServiceProcess:
    """What ``mesh.serving.entry`` serves."""
    return build(
        config.service,
        config.kafka,
        auth=config.auth,
        page_tokens=PageTokens.from_settings(config.paging),
        tls=MeshTls.from_settings(config.tls),
    ).process
