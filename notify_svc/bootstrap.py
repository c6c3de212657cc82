"""The composition root: builds every dependency of one process. Nothing connects at import.

``build_dependencies`` wires the ports the handlers see; ``bootstrap`` adds the edges around them
(servicers, the event consumer, the dispatcher, interceptors) and returns the ServiceProcess that
``mesh.serving.entry`` serves. The loops themselves live in entrypoints/workers.py.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict, Unpack

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from mesh.messaging.kafka import EventConsumer, KafkaProducer, Topics
from mesh.messaging.operations import service_operations
from mesh.serving.server import ServiceProcess, Worker
from mesh.serving.service_process import service_process
from mesh.storage.engine import service_engine, session_factory
from mesh.storage.paging import PageTokens
from notify_svc.adapters.email_channel import EmailChannel, SmtpConfig
from notify_svc.adapters.metrics import PrometheusMetrics
from notify_svc.adapters.sms_channel import SmsChannel, SmsGatewayConfig
from notify_svc.adapters.unit_of_work import SqlUnitOfWork
from notify_svc.adapters.webhook_sender import HttpWebhookSender, WebhookHttpConfig
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.domain.webhooks import JitteredRetry
from notify_svc.entrypoints.event_handlers import consumer_spec
from notify_svc.entrypoints.grpc_servicer import NotificationServicer
from notify_svc.entrypoints.webhook_servicer import WebhookServicer
from notify_svc.entrypoints.workers import DispatchWorker, consumer_worker
from notify_svc.service_layer.delivery import DeliverySettings, Dispatcher
from notify_svc.service_layer.ports import (
    Channel,
    Clock,
    Dependencies,
    Metrics,
    UnitOfWork,
    UnitOfWorkFactory,
    Wake,
    WebhookSender,
)
from notify_svc.service_layer.webhook_delivery import WebhookDeliverySettings, WebhookDispatcher
from notify_svc.settings import Config, NotifySettings
from oms.notify.v1 import (
    notify_pb2,
    notify_pb2_grpc,
    operations_pb2,
    operations_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)

# Package name: the migrations' home (mesh.storage.migrate), the logs' and metrics' service name.
SERVICE = "notify_svc"
# The Kafka consumer group (tests suffix it) and the name the inbox records events under (never suffixed).
CONSUMER_GROUP = "notify-svc"
SERVICES = (
    notify_pb2.DESCRIPTOR.services_by_name["NotificationService"],
    operations_pb2.DESCRIPTOR.services_by_name["NotifyOperationsService"],
    webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"],
)


@dataclass(frozen=True)
class Connections:
    """The pool and clients one process holds: built (not connected) by ``build_connections``,
    released by ``close`` (the process's on_close)."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Dead letters and their replays are produced with it.
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
        producer=KafkaProducer(config.kafka, client_id="notify-svc-dlq"),
        topics=Topics(config.kafka.topic_prefix),
    )


def _sql_units_of_work(connections: Connections) -> UnitOfWorkFactory:
    def unit_of_work() -> UnitOfWork:
        return SqlUnitOfWork(connections.sessions, inbox_consumer=CONSUMER_GROUP)

    return unit_of_work


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


def sms_channel(settings: NotifySettings) -> SmsChannel | None:
    """The SMS channel, when a gateway is configured (OMS_NOTIFY_SMS_GATEWAY_URL)."""
    if not settings.sms_gateway_url:
        return None
    token = settings.sms_gateway_token.get_secret_value() if settings.sms_gateway_token else None
    return SmsChannel(
        SmsGatewayConfig(
            url=settings.sms_gateway_url, sender=settings.sms_sender, token=token, timeout_s=settings.sms_timeout_s
        )
    )


def default_channels(settings: NotifySettings) -> list[Channel]:
    sms = sms_channel(settings)
    return [email_channel(settings), *([sms] if sms else [])]


def webhook_sender(settings: NotifySettings) -> HttpWebhookSender:
    return HttpWebhookSender(WebhookHttpConfig(timeout_s=settings.webhook_timeout_s), clock=time.time)


def webhook_delivery_settings(settings: NotifySettings, rand: Callable[[], float]) -> WebhookDeliverySettings:
    policy = RetryPolicy(settings.webhook_max_attempts, settings.webhook_retry_base_s, settings.webhook_retry_max_s)
    return WebhookDeliverySettings(
        retry=JitteredRetry(policy, rand),
        concurrency=settings.webhook_concurrency,
        lease=timedelta(seconds=settings.webhook_claim_lease_s),
    )


def delivery_settings(settings: NotifySettings) -> DeliverySettings:
    return DeliverySettings(
        policy=RetryPolicy(settings.max_attempts, settings.retry_base_s, settings.retry_max_s),
        concurrency=settings.dispatch_concurrency,
        lease=timedelta(seconds=settings.claim_lease_s),
    )


async def _no_dispatcher_to_wake() -> None:
    return None


class PortOverrides(TypedDict, total=False):
    """Ports a caller (a test) hands in instead of the ones built here: fakes, spies."""

    uow: UnitOfWorkFactory
    channels: Sequence[Channel]
    metrics: Metrics
    clock: Clock
    # What a commit of due work calls; without one nothing is woken and the dispatcher's poll
    # finds the rows (bootstrap passes its dispatcher's wake-up).
    wake: Wake
    # POSTs webhook deliveries (a fake or spy in tests).
    webhooks: WebhookSender


def build_dependencies(
    config: Config, *, connections: Connections | None = None, **overrides: Unpack[PortOverrides]
) -> Dependencies:
    """The ports the handlers use; each override replaces one.

    ``connections``: the pool of the SQL unit of work; whoever passes them closes them (bootstrap
    does at close). Without them (and without ``uow``) the unit of work gets a pool of its own,
    which lives as long as the process.
    """
    uow = overrides.get("uow") or _sql_units_of_work(connections or build_connections(config))
    channels = overrides.get("channels")
    return Dependencies(
        uow=uow,
        channels={c.name: c for c in (channels if channels is not None else default_channels(config.service))},
        clock=overrides.get("clock") or (lambda: datetime.now(UTC)),
        new_id=lambda: str(uuid.uuid4()),
        metrics=overrides.get("metrics") or PrometheusMetrics(),
        wake=overrides.get("wake") or _no_dispatcher_to_wake,
        webhooks=overrides.get("webhooks") or webhook_sender(config.service),
        development=config.deployment.is_development,
        random=random.random,
    )


def bootstrap(
    config: Config, *, connections: Connections | None = None, **overrides: Unpack[PortOverrides]
) -> ServiceProcess:
    """The process ``python -m notify_svc`` serves: gRPC services, event consumer and dispatcher.
    A test may hand in the connections (to read the same database beside it; it closes them) and
    ports (``build_dependencies``)."""
    settings = config.service
    conn = connections or build_connections(config)
    # One event per dispatcher: each loop clears its own before claiming.
    woken, webhooks_woken = asyncio.Event(), asyncio.Event()

    async def wake_dispatchers() -> None:
        woken.set()
        webhooks_woken.set()

    overrides.setdefault("wake", wake_dispatchers)
    deps = build_dependencies(config, connections=conn, **overrides)
    dispatcher = DispatchWorker(
        Dispatcher(deps, delivery_settings(settings)), poll_interval_s=settings.dispatch_poll_s, woken=woken
    )
    webhook_dispatcher = DispatchWorker(
        WebhookDispatcher(deps, webhook_delivery_settings(settings, deps.random)),
        poll_interval_s=settings.dispatch_poll_s,
        woken=webhooks_woken,
    )
    dead_letters = conn.producer
    spec = consumer_spec(conn.topics, settings.group_id(CONSUMER_GROUP), deps)
    consumer = EventConsumer(config.kafka, spec, dlq_producer=dead_letters)
    tokens = PageTokens.from_settings(config.paging)
    # Replays are produced with the dead-letter producer, started with the process (start is idempotent).
    operations = service_operations(
        operations_pb2_grpc.NotifyOperationsServiceServicer, config.kafka, spec, dead_letters, conn.engine, tokens
    )
    servicer = NotificationServicer(deps, tokens)
    webhook_servicer = WebhookServicer(deps, tokens)

    def register(server: grpc.aio.Server) -> None:
        notify_pb2_grpc.add_NotificationServiceServicer_to_server(servicer, server)
        operations_pb2_grpc.add_NotifyOperationsServiceServicer_to_server(operations, server)
        webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(webhook_servicer, server)

    workers: list[Worker] = (
        [consumer_worker(consumer, dead_letters), dispatcher.run, webhook_dispatcher.run]
        if settings.run_workers
        else []
    )
    sender = deps.webhooks
    closing = [sender.close] if isinstance(sender, HttpWebhookSender) else []
    return service_process(
        SERVICE,
        settings,
        services=SERVICES,
        register=register,
        auth=config.auth,
        tls=config.tls,
        workers=workers,
        on_start=[dead_letters.start],
        # Connections handed in belong to the caller, who closes them.
        on_close=[*closing, *([conn.close] if connections is None else [])],
    )
