"""Webhooks against the real PostgreSQL, Kafka and a real HTTP receiver on loopback: every
order event reaches every active endpoint as a signed CloudEvent, once per event and endpoint
as the receiver keeps it (deduplicating on webhook-id), also when the receiver fails first and
when the dispatcher is stopped between the POST and recording its outcome.

The guarantee is at least once with a stable id: a POST whose outcome was not recorded is
made again, with the same webhook-id, once its lease has run out.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import grpc
import pytest

from mesh.messaging.kafka import KafkaProducer
from mesh.settings.common import KafkaSettings
from notify_svc.adapters.webhook_sender import HttpWebhookSender
from notify_svc.domain.orders import CustomerContact, EventKind, Money, OrderEvent, OrderSnapshot
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.domain.webhooks import JitteredRetry
from notify_svc.service_layer.notifications import record_order_event
from notify_svc.service_layer.webhook_delivery import WebhookDeliverySettings, WebhookDispatcher
from oms.notify.v1 import webhooks_pb2, webhooks_pb2_grpc
from testkit.wait import eventually
from testkit.webhook_receiver import WebhookReceiver, verify
from tests.integration.notify.conftest import RunningNotify, StartNotify
from tests.integration.notify.support import confirmed, placed, publish

pytestmark = pytest.mark.integration
DELIVERED = webhooks_pb2.WEBHOOK_DELIVERY_STATUS_DELIVERED

# A short lease, so the test sees a stopped attempt become due again within seconds.
LEASED = WebhookDeliverySettings(retry=JitteredRetry(RetryPolicy(3, 0.2, 1.0), lambda: 0.5), lease=timedelta(seconds=2))


@pytest.fixture
async def receivers() -> AsyncIterator[list[WebhookReceiver]]:
    started: list[WebhookReceiver] = []
    yield started
    for receiver in started:
        receiver.stop()


def webhooks_stub(service: RunningNotify) -> tuple[grpc.aio.Channel, Any]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{service.process.bound_port}")
    return channel, webhooks_pb2_grpc.WebhookServiceStub(channel)


async def register(stub: Any, url: str) -> tuple[str, str]:
    reply = await stub.CreateWebhookEndpoint(
        webhooks_pb2.CreateWebhookEndpointRequest(endpoint=webhooks_pb2.WebhookEndpoint(url=url)), timeout=10
    )
    return reply.endpoint.endpoint_id, reply.secret


async def deliveries(stub: Any, order_id: str) -> list[webhooks_pb2.WebhookDelivery]:
    reply = await stub.ListWebhookDeliveries(webhooks_pb2.ListWebhookDeliveriesRequest(order_id=order_id), timeout=10)
    return list(reply.deliveries)


def events_of(receiver: WebhookReceiver, order_id: str) -> list[dict[str, Any]]:
    return [r.event() for r in receiver.accepted() if r.event()["subject"] == order_id]


async def test_every_event_reaches_every_endpoint_once_signed_even_when_the_receiver_fails_first(
    start_notify: StartNotify, producer: KafkaProducer, kafka: KafkaSettings, receivers: list[WebhookReceiver]
) -> None:
    service = await start_notify(webhook_retry_base_s=0.2, webhook_retry_max_s=0.5)
    flaky, steady = WebhookReceiver(fail_first=1).start(), WebhookReceiver().start()
    receivers += [flaky, steady]
    channel, stub = webhooks_stub(service)
    try:
        (flaky_id, flaky_secret), (steady_id, steady_secret) = [await register(stub, r.url) for r in receivers]
        order_id = f"ord-{uuid.uuid4().hex[:8]}"
        placed_id = await publish(producer, kafka, order_id, placed(order_id))
        confirmed_id = await publish(producer, kafka, order_id, confirmed(order_id))
        # The same event again (a redelivery): no second delivery is recorded.
        await publish(producer, kafka, order_id, placed(order_id), event_id=placed_id)

        rows = await eventually(
            lambda: deliveries(stub, order_id),
            until=lambda ds: (
                len(ds) == 4 and all(d.status == webhooks_pb2.WEBHOOK_DELIVERY_STATUS_DELIVERED for d in ds)
            ),
            timeout_s=30,
            what="four deliveries DELIVERED",
        )
        assert sorted((d.event_id, d.endpoint_id) for d in rows) == sorted(
            (e, n) for e in (placed_id, confirmed_id) for n in (flaky_id, steady_id)
        )
        # The flaky receiver answered 503 first: each of its deliveries took two attempts.
        assert sorted(d.attempts for d in rows if d.endpoint_id == flaky_id) == [2, 2]
        assert [d.attempts for d in rows if d.endpoint_id == steady_id] == [1, 1]
        assert len([r for r in flaky.requests if r.status == 503]) == 2

        for receiver, secret in ((flaky, flaky_secret), (steady, steady_secret)):
            events = events_of(receiver, order_id)
            assert sorted(e["id"] for e in events) == sorted([placed_id, confirmed_id])
            assert {e["type"] for e in events} == {"oms.order.v1.OrderPlaced", "oms.order.v1.OrderStatusChanged"}
            confirmed_event = next(e for e in events if e["id"] == confirmed_id)
            assert confirmed_event["data"]["newStatus"] == "ORDER_STATUS_CONFIRMED"
            assert confirmed_event["specversion"] == "1.0" and confirmed_event["datacontenttype"] == "application/json"
            for request in receiver.requests:
                assert verify(secret, request.headers, request.body)
                assert request.headers["content-type"].startswith("application/cloudevents+json")
        # A retry carries the same webhook-id and the same body: the receiver can dedupe.
        by_id: dict[str, set[bytes]] = {}
        for request in flaky.requests:
            by_id.setdefault(request.delivery_id, set()).add(request.body)
        assert len(by_id) == 2 and all(len(bodies) == 1 for bodies in by_id.values())
        assert not verify(steady_secret, flaky.requests[0].headers, flaky.requests[0].body)
    finally:
        await channel.close()


async def test_a_dispatcher_stopped_between_the_post_and_its_commit_posts_again_with_the_same_id(
    start_notify: StartNotify, producer: KafkaProducer, kafka: KafkaSettings, receivers: list[WebhookReceiver]
) -> None:
    # No dispatcher in the process: the test runs its own, to stop it at the worst moment.
    service = await start_notify(run_workers=False, webhook_timeout_s=1.0, webhook_claim_lease_s=2.0)
    receiver = WebhookReceiver(hold_s=1.5).start()
    receivers.append(receiver)
    channel, stub = webhooks_stub(service)
    try:
        _, secret = await register(stub, receiver.url)
        order_id = f"ord-{uuid.uuid4().hex[:8]}"
        event = OrderEvent(
            str(uuid.uuid4()),
            EventKind.ORDER_PLACED,
            OrderSnapshot(order_id, "cust-1", "PENDING", (), Money("EUR", Decimal(0))),
            CustomerContact("cust-1", "Ada", "ada@example.com"),
            new_status="PENDING",
        )
        await record_order_event(event, service.deps, '{"specversion":"1.0"}')
        first = WebhookDispatcher(service.deps, LEASED)
        dispatch = asyncio.create_task(first.dispatch_due())
        # The receiver has the POST (and has accepted it: it answers 200 after holding it)...
        await asyncio.to_thread(receiver.arrived.wait, 10)
        # ...and the process dies before the outcome is recorded.
        for task in asyncio.all_tasks():
            if task.get_name().startswith("webhook-"):
                task.cancel()
        dispatch.cancel()
        await asyncio.gather(dispatch, return_exceptions=True)
        [leased] = await deliveries(stub, order_id)
        assert (leased.status, leased.attempts) == (webhooks_pb2.WEBHOOK_DELIVERY_STATUS_PENDING, 1)

        # Another dispatcher (a replica, or the process restarted) takes it over once the lease ran out.
        receiver.hold_s = 0
        second = WebhookDispatcher(service.deps, LEASED)
        await eventually(second.dispatch_due, until=lambda n: n == 1, timeout_s=10, what="the row due again")
        [done] = await deliveries(stub, order_id)
        assert (done.status, done.attempts) == (webhooks_pb2.WEBHOOK_DELIVERY_STATUS_DELIVERED, 2)
        # Two POSTs, one id: the receiver that dedupes on webhook-id keeps one.
        assert [r.delivery_id for r in receiver.requests] == [done.delivery_id, done.delivery_id]
        assert len(receiver.accepted()) == 1
        assert all(verify(secret, r.headers, r.body) for r in receiver.requests)
    finally:
        await channel.close()
        sender = service.deps.webhooks
        assert isinstance(sender, HttpWebhookSender)
        await sender.close()
