"""Webhooks and SMS through the whole mesh: an endpoint registered over the gateway's HTTP API
receives a customer's order as signed CloudEvents (OrderPlaced, then CONFIRMED); the customer
with a phone number gets text messages on the development SMS gateway, the one without gets
none (email only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from notify_svc.dev_sms import SmsSink
from testkit.clients import unique
from testkit.infra import Infra
from testkit.processes import new_mesh
from testkit.wait import eventually
from testkit.webhook_receiver import WebhookReceiver, verify
from tests.e2e.gateway_support import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

PHONE = "+4930123456"


class Sinks:
    def __init__(self) -> None:
        self.receiver = WebhookReceiver().start()
        self.sms = SmsSink().serve()

    def close(self) -> None:
        self.receiver.stop()
        self.sms.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sinks() -> AsyncIterator[Sinks]:
    started = Sinks()
    try:
        yield started
    finally:
        started.close()


def notify_env(sinks: Sinks) -> dict[str, str]:
    # The SMS timeout is bounded by the short claim lease the stack's notify runs with.
    return {"OMS_NOTIFY_SMS_GATEWAY_URL": sinks.sms.url, "OMS_NOTIFY_SMS_TIMEOUT_S": "2"}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, sinks: Sinks, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("webhooks")))
    try:
        async with running_stack(mesh, notify_env=notify_env(sinks)) as running:
            yield running
    finally:
        await mesh.stop()


async def customer(stack: Stack, phone: str = "") -> str:
    customer_id = unique("c")
    body = {"customerId": customer_id, "name": "Ada Lovelace", "email": f"{customer_id}@example.com"}
    await stack.call("POST", "/customers", body=body | ({"phone": phone} if phone else {}))
    return customer_id


def events_about(receiver: WebhookReceiver, order_id: str) -> list[dict[str, Any]]:
    return [r.event() for r in receiver.accepted() if r.event().get("subject") == order_id]


async def test_a_registered_endpoint_gets_the_order_as_signed_cloud_events_and_texts_go_to_phones(
    stack: Stack, sinks: Sinks
) -> None:
    registered = await stack.call("POST", "/admin/webhooks", body={"endpoint": {"url": sinks.receiver.url}})
    secret = registered.json()["secret"]
    endpoint_id = registered.json()["endpoint"]["endpointId"]
    product = await stack.product(stock=10)
    with_phone, without_phone = await customer(stack, PHONE), await customer(stack)
    texted = (await stack.place(with_phone, product, headers=stack.headers(with_phone, "customer")))["orderId"]
    mailed = (await stack.place(without_phone, product, headers=stack.headers(without_phone, "customer")))["orderId"]

    for order_id, customer_id in ((texted, with_phone), (mailed, without_phone)):
        events = await eventually(
            lambda order_id=order_id: _async(events_about(sinks.receiver, order_id)),  # type: ignore[misc]
            until=lambda es: {e["type"] for e in es} >= {"oms.order.v1.OrderPlaced", "oms.order.v1.OrderStatusChanged"},
            timeout_s=60,
            what=f"OrderPlaced and OrderStatusChanged of {order_id} at the receiver",
        )
        placed = next(e for e in events if e["type"] == "oms.order.v1.OrderPlaced")
        confirmed = next(e for e in events if e["type"] == "oms.order.v1.OrderStatusChanged")
        assert (
            placed["data"]["order"]["orderId"] == order_id and placed["data"]["customer"]["customerId"] == customer_id
        )
        assert confirmed["data"]["newStatus"] == "ORDER_STATUS_CONFIRMED"
        for event in (placed, confirmed):
            assert event["specversion"] == "1.0" and event["datacontenttype"] == "application/json"
            assert event["source"] and event["time"].endswith("Z") and event["id"]
    assert all(verify(secret, r.headers, r.body) for r in sinks.receiver.requests)
    # One delivery per event and endpoint, each accepted at the first attempt.
    ids = [r.delivery_id for r in sinks.receiver.requests]
    assert len(ids) == len(set(ids))

    listed = await stack.call("GET", "/admin/webhook-deliveries", params={"orderId": texted})
    deliveries = listed.json()["deliveries"]
    assert {d["endpointId"] for d in deliveries} == {endpoint_id}
    assert {d["status"] for d in deliveries} == {"WEBHOOK_DELIVERY_STATUS_DELIVERED"}

    texts = await eventually(
        lambda: _async([m for m in sinks.sms.received if texted in m.text]),
        until=lambda ms: len(ms) >= 2,
        timeout_s=30,
        what="two text messages about the order of the customer with a phone",
    )
    assert {m.to for m in texts} == {PHONE}
    assert any("is confirmed" in m.text for m in texts) and all(len(m.text) <= 160 for m in texts)
    # The customer without a phone was told by email only: their notifications are all emails.
    notes = await eventually(
        lambda: stack.call("GET", "/notifications", params={"orderId": mailed}),
        until=lambda r: len(r.json().get("notifications", [])) >= 2,
        timeout_s=30,
        what="the emails about the other order",
    )
    assert {n["channel"] for n in notes.json()["notifications"]} == {"CHANNEL_EMAIL"}
    assert not [m for m in sinks.sms.received if mailed in m.text]
    texted_notes = (await stack.call("GET", "/notifications", params={"orderId": texted})).json()["notifications"]
    assert {n["channel"] for n in texted_notes} == {"CHANNEL_EMAIL", "CHANNEL_SMS"}


async def _async(value: Any) -> Any:
    return value
