"""``python -m notify_svc`` killed with SIGKILL while webhook POSTs are in flight: after the
restart every event has reached the endpoint, each exactly once as a receiver deduplicating on
``webhook-id`` keeps it; the only repeats are POSTs the endpoint had accepted when the process
died (at most one per POST in flight), and they carry the same id."""

from __future__ import annotations

import collections
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import grpc
import pytest

from mesh.auth.minting import mint_token
from mesh.messaging.kafka import KafkaProducer
from mesh.settings.common import KafkaSettings
from mesh.storage.engine import asyncpg_dsn
from oms.notify.v1 import webhooks_pb2, webhooks_pb2_grpc
from testkit.processes import free_port
from testkit.wait import eventually
from testkit.webhook_receiver import WebhookReceiver, verify
from tests.integration.notify.support import SmtpServer, placed, publish
from tests.integration.notify.test_notify_process import ServiceProcess, service_env

pytestmark = pytest.mark.integration

EVENTS = 60
CONCURRENCY = 4


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    # Slow enough (~80 POSTs/s) that the kill lands with POSTs in flight.
    with WebhookReceiver(hold_s=0.05) as started:
        yield started


async def delivery_rows(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return list(
            await conn.fetch("SELECT delivery_id::text AS id, event_id, status, attempts FROM webhook_deliveries")
        )
    finally:
        await conn.close()


async def test_kill_9_with_posts_in_flight_delivers_every_event_once_per_webhook_id(
    database_factory: Callable[[str], Awaitable[str]],
    kafka: KafkaSettings,
    smtp: SmtpServer,
    producer: KafkaProducer,
    receiver: WebhookReceiver,
    tmp_path: Path,
) -> None:
    url = await database_factory("notify_svc")
    port = free_port()
    service = ServiceProcess(
        service_env(
            OMS_NOTIFY_DATABASE_URL=url,
            OMS_NOTIFY_GRPC_PORT=str(port),
            OMS_NOTIFY_METRICS_PORT="0",
            OMS_NOTIFY_SMTP_PORT=str(smtp.port),
            OMS_NOTIFY_SMTP_TIMEOUT_S="2",
            OMS_NOTIFY_CLAIM_LEASE_S="4",
            OMS_NOTIFY_DISPATCH_POLL_S="0.2",
            OMS_NOTIFY_WEBHOOK_TIMEOUT_S="1",
            OMS_NOTIFY_WEBHOOK_CLAIM_LEASE_S="3",
            OMS_NOTIFY_WEBHOOK_CONCURRENCY=str(CONCURRENCY),
            OMS_NOTIFY_WEBHOOK_RETRY_BASE_S="0.2",
            OMS_NOTIFY_WEBHOOK_RETRY_MAX_S="1",
            OMS_NOTIFY_CONSUMER_GROUP_SUFFIX="-" + uuid.uuid4().hex[:8],
            OMS_KAFKA_BOOTSTRAP=kafka.bootstrap,
            OMS_KAFKA_TOPIC_PREFIX=kafka.topic_prefix,
            OMS_LOG_LEVEL="WARNING",
        ),
        tmp_path / "notify.log",
    )
    await service.start()
    try:
        metadata = (("authorization", f"Bearer {mint_token('admin-1', ('admin',))}"),)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = webhooks_pb2_grpc.WebhookServiceStub(channel)  # type: ignore[no-untyped-call]
            request = webhooks_pb2.CreateWebhookEndpointRequest(endpoint=webhooks_pb2.WebhookEndpoint(url=receiver.url))

            async def register() -> webhooks_pb2.CreateWebhookEndpointResponse:
                try:
                    reply: webhooks_pb2.CreateWebhookEndpointResponse = await stub.CreateWebhookEndpoint(
                        request, metadata=metadata, timeout=5
                    )
                except grpc.aio.AioRpcError as exc:  # not serving yet
                    raise AssertionError(exc.code()) from exc
                return reply

            created = await eventually(register, timeout_s=30, what="the endpoint registered")
        event_ids = []
        for i in range(EVENTS):
            order_id = f"ord-hook-{i:03d}-{uuid.uuid4().hex[:6]}"
            event_ids.append(await publish(producer, kafka, order_id, placed(order_id)))

        await eventually(
            lambda: _count(receiver), until=lambda n: n >= 15, timeout_s=60, interval_s=0.01, what="15 POSTs"
        )
        await service.kill()
        at_kill = len(receiver.requests)
        assert at_kill < EVENTS, "the kill must land in mid-flight"

        await service.start()
        rows = await eventually(
            lambda: delivery_rows(url),
            until=lambda r: len(r) >= EVENTS and all(x["status"] == "DELIVERED" for x in r),
            timeout_s=90,
            interval_s=0.2,
            what="every event delivered after the restart",
        )
        assert await service.terminate() == 0
    except BaseException:
        sys.stderr.write(service.log_tail())
        raise

    assert sorted(r["event_id"] for r in rows) == sorted(event_ids), "one delivery per event and endpoint"
    accepted = receiver.accepted()
    assert {r.delivery_id for r in accepted} == {r["id"] for r in rows}, "a delivery never reached the endpoint"
    assert sorted(r.event()["id"] for r in accepted) == sorted(event_ids)
    assert all(verify(created.secret, r.headers, r.body) for r in receiver.requests)
    repeats = sum(n - 1 for n in collections.Counter(r.delivery_id for r in receiver.requests).values())
    sys.stderr.write(f"\nwebhook kill test: {at_kill} POSTs before the kill, {repeats} repeated webhook-id(s)\n")
    # Only POSTs the endpoint accepted but whose outcome was not yet committed are made again.
    assert repeats <= CONCURRENCY
    assert all(r["attempts"] in (1, 2) for r in rows)


async def _count(receiver: WebhookReceiver) -> int:
    return len(receiver.requests)
