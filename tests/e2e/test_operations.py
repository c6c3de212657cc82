"""Dead letters as an operator's tool, end to end: the admin routes over HTTP, the ``oms`` CLI
as a real subprocess, and replays that are safe whatever state the order is in by then."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from mesh.messaging.events import OutgoingEvent, cloudevent_headers
from mesh.messaging.kafka import Topics
from mesh.messaging.outbox import add_events
from mesh.storage.engine import asyncpg_dsn, create_engine, session_factory
from oms.inventory.v1 import events_pb2 as inventory_events
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2
from testkit.clients import unique
from testkit.infra import Infra
from testkit.processes import ROOT, new_mesh
from testkit.topics import produce_raw
from testkit.wait import eventually
from tests.e2e.gateway_support import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("operations")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


def topics(stack: Stack) -> Topics:
    return Topics(stack.mesh.kafka.topic_prefix)


def consumer_group(stack: Stack, service: str) -> str:
    env = stack.service(service).env
    prefix = f"OMS_{service.upper()}_"
    return env[f"{prefix}CONSUMER_GROUP"] + env.get(f"{prefix}CONSUMER_GROUP_SUFFIX", "")


def ce_headers(event_type: str, event_id: str | None = None) -> list[tuple[str, bytes]]:
    headers = cloudevent_headers(
        event_id=event_id or str(uuid.uuid4()), event_type=event_type, source="/test", time=datetime.now(UTC)
    )
    return [(name, value) for name, value in headers if isinstance(value, bytes)]


def dead_letter(stack: Stack, *, topic: str, group: str, key: str, message: Any, event_id: str) -> None:
    """Writes a dead letter exactly as the consumer does: the original headers, then its own."""
    headers = [
        *ce_headers(message.DESCRIPTOR.full_name, event_id),
        ("dlq_error", b"handler failed 5 times: simulated"),
        ("dlq_error_type", b"RuntimeError"),
        ("dlq_original_topic", topic.encode()),
        ("dlq_original_partition", b"0"),
        ("dlq_original_offset", b"0"),
        ("dlq_attempts", b"5"),
        ("dlq_consumer_group", group.encode()),
    ]
    produce_raw(
        stack.mesh.kafka.bootstrap,
        Topics.dead_letter(topic),
        key=key,
        value=message.SerializeToString(),
        headers=headers,
    )


async def query(stack: Stack, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(asyncpg_dsn(stack.mesh.databases[service]))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


async def reserved(stack: Stack, product_id: str) -> int:
    reply = await stack.call("GET", f"/api/inventory/{product_id}")
    return int(reply.json()["stock"]["reserved"])


async def oms(stack: Stack, *args: str) -> tuple[int, str, str]:
    """``python -m mesh.cli …`` as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMS_")} | {"PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mesh.cli",
        *args,
        "--token",
        stack.mesh.token(),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("service", ["order", "inventory", "notify"])
async def test_the_admin_routes_answer_admins_only(stack: Stack, service: str) -> None:
    listed = await stack.call("GET", f"/admin/{service}/dead-letters", params={"pageSize": 5})
    assert isinstance(listed.json()["deadLetters"], list)
    customer = stack.headers(unique("c"), "customer")
    await stack.call("GET", f"/admin/{service}/dead-letters", headers=customer, expect=403)
    await stack.call("GET", f"/admin/{service}/dead-letters", headers={}, expect=401)
    body = {"deadLetters": [{"topic": "orders.dlq", "partition": 0, "offset": "0"}]}
    await stack.call("POST", f"/admin/{service}/dead-letters:replay", body=body, headers=customer, expect=403)
    await stack.call("GET", f"/admin/{service}/dead-letters", params={"pageToken": "forged"}, expect=400)
    parked = await stack.call("GET", f"/admin/{service}/parked-events")
    assert isinstance(parked.json()["parkedEvents"], list)
    await stack.call("GET", f"/admin/{service}/parked-events", headers=customer, expect=403)
    republish = {"outboxIds": ["1"]}
    await stack.call("POST", f"/admin/{service}/parked-events:republish", body=republish, headers=customer, expect=403)


async def test_an_order_placed_replayed_after_its_cancellation_reserves_nothing(stack: Stack) -> None:
    """The OrderPlaced of an order sat in inventory's DLQ while the order was cancelled; the
    operator replays it with the CLI: inventory remembers the cancellation and reserves nothing."""
    orders = topics(stack).name("orders")
    product = await stack.product(stock=5)
    order_id = unique("o")
    order = order_pb2.Order(order_id=order_id, items=[order_pb2.OrderItem(product_id=product, quantity=2)])
    cancel = order_events.OrderCancelled(order=order, previous_status=order_pb2.ORDER_STATUS_PENDING, reason="x")
    produce_raw(
        stack.mesh.kafka.bootstrap,
        orders,
        key=order_id,
        value=cancel.SerializeToString(),
        headers=ce_headers("oms.order.v1.OrderCancelled"),
    )
    await eventually(
        lambda: query(stack, "inventory_svc", "SELECT status FROM reservations WHERE order_id = $1", order_id),
        what="inventory to record the cancellation",
    )
    placed_id = unique("evt")
    dead_letter(
        stack,
        topic=orders,
        group=consumer_group(stack, "inventory"),
        key=order_id,
        message=order_events.OrderPlaced(order=order),
        event_id=placed_id,
    )

    target = ["--service", "inventory", "--target", stack.service("inventory").address]
    code, out, err = await oms(stack, "dlq", "list", *target, "--json")
    assert code == 0, err
    [letter] = [d for d in json.loads(out)["dead_letters"] if d["event_id"] == placed_id]
    assert letter["event"]["order"]["order_id"] == order_id  # decoded from protobuf
    assert (letter["error_type"], letter["attempts"]) == ("RuntimeError", 5)
    ref = f"{letter['ref']['topic']}/{letter['ref'].get('partition', 0)}/{letter['ref'].get('offset', '0')}"

    code, out, err = await oms(stack, "dlq", "list", *target)
    assert code == 0 and ref in out and "oms.order.v1.OrderPlaced" in out, (out, err)
    code, out, err = await oms(stack, "dlq", "show", ref, *target)
    assert code == 0 and placed_id in out and order_id in out and "dlq_error" in out, (out, err)

    code, out, err = await oms(stack, "dlq", "replay", ref, *target)
    assert code == 0 and "1 of 1 replayed" in out, (out, err)
    await eventually(
        lambda: query(stack, "inventory_svc", "SELECT 1 FROM inbox WHERE event_id = $1", placed_id),
        what="inventory to handle the replayed OrderPlaced",
    )
    assert await reserved(stack, product) == 0
    assert await query(stack, "inventory_svc", "SELECT 1 FROM reservation_items WHERE order_id = $1", order_id) == []

    # Replaying it again (everything from orders, as an operator in a hurry would) is harmless.
    code, out, err = await oms(stack, "dlq", "replay", "--all", "--original-topic", orders, *target)
    assert code == 0 and "1 of 1 replayed" in out, (out, err)
    code, _, err = await oms(stack, "dlq", "replay", ref, "--all", *target)
    assert code == 2 and "not both" in err
    assert await reserved(stack, product) == 0


async def test_a_reservation_replayed_to_a_cancelled_order_is_released(stack: Stack) -> None:
    """Inventory holds stock for an order the order service has cancelled without inventory
    hearing of it (arranged below); the InventoryReserved the operator replays over HTTP makes the
    order service hand the reservation back."""
    product, customer = await stack.product(stock=5), await stack.customer()
    placed = await stack.call(
        "POST", "/orders", body={"customerId": customer, "items": [{"productId": product, "quantity": 2}]}
    )
    order_id = placed.json()["order"]["orderId"]
    await eventually(
        lambda: stack.call("GET", f"/orders/{order_id}"),
        until=lambda r: r.json()["order"]["status"] == "ORDER_STATUS_CONFIRMED",
        what="the order to be confirmed",
    )
    assert await reserved(stack, product) == 2
    # The arrangement: the order moved to CANCELLED and its OrderCancelled never reached inventory.
    await query(stack, "order_svc", "UPDATE orders SET status = 'CANCELLED' WHERE order_id = $1", order_id)

    event_id = unique("evt")
    dead_letter(
        stack,
        topic=topics(stack).name("inventory"),
        group=consumer_group(stack, "order"),
        key=order_id,
        message=inventory_events.InventoryReserved(order_id=order_id),
        event_id=event_id,
    )
    page = await eventually(
        lambda: stack.call("GET", "/admin/order/dead-letters"),
        until=lambda r: any(d["eventId"] == event_id for d in r.json()["deadLetters"]),
        what="the dead letter to be listed",
    )
    [letter] = [d for d in page.json()["deadLetters"] if d["eventId"] == event_id]
    one = await stack.call(
        "GET",
        f"/admin/order/dead-letters/{letter['ref']['topic']}/{letter['ref']['partition']}/{letter['ref']['offset']}",
    )
    assert one.json()["deadLetter"]["event"]["orderId"] == order_id
    replay = await stack.call("POST", "/admin/order/dead-letters:replay", body={"deadLetters": [letter["ref"]]})
    assert replay.json()["results"][0]["replayed"] is True

    await eventually(lambda: reserved(stack, product), until=lambda n: n == 0, what="the reservation to be released")
    # The order itself is left as it was (GET /orders would serve the cached CONFIRMED: the
    # arrangement bypassed the service, so read the row).
    [row] = await query(stack, "order_svc", "SELECT status FROM orders WHERE order_id = $1", order_id)
    assert row["status"] == "CANCELLED"


async def test_a_parked_event_is_listed_and_republished_with_the_cli(stack: Stack) -> None:
    """An event the broker refuses for good (larger than its message size limit) is parked by
    the order service's relay; the operator sees it with the CLI and hands it back."""
    orders = topics(stack).name("orders")
    order_id = unique("o")
    oversized = OutgoingEvent(
        topic=orders,
        key=order_id,
        message=order_events.OrderCancelled(order=order_pb2.Order(order_id=order_id), reason="x" * 2_000_000),
    )
    engine = create_engine(stack.mesh.databases["order_svc"], pool_size=1)
    try:
        async with session_factory(engine)() as session, session.begin():
            await add_events(session, [oversized])
    finally:
        await engine.dispose()
    target = ["--service", "order", "--target", stack.service("order").address]

    async def parked_ids() -> list[int]:
        code, out, err = await oms(stack, "outbox", "parked", *target, "--json")
        assert code == 0, err
        return [int(p["outbox_id"]) for p in json.loads(out)["parked_events"] if p["event_id"] == oversized.event_id]

    [outbox_id] = await eventually(parked_ids, what="the oversized event to be parked", timeout_s=60)
    code, out, err = await oms(stack, "outbox", "parked", *target)
    assert code == 0 and "MSG_SIZE_TOO_LARGE" in out and "oms.order.v1.OrderCancelled" in out, (out, err)

    [first] = await query(stack, "order_svc", "SELECT parked_at FROM outbox WHERE id = $1", outbox_id)
    first_parked_at = first["parked_at"]
    code, out, err = await oms(stack, "outbox", "republish", str(outbox_id), str(outbox_id + 10_000), *target)
    assert code == 1, "one of the two was not parked"
    assert f"republished 1 of 2: {outbox_id}" in out and f"not parked (left alone): {outbox_id + 10_000}" in out
    # Still too large: the relay tries it again and parks it again, later than the first time.
    sql = "SELECT parked_at FROM outbox WHERE id = $1"
    rows = await eventually(
        lambda: query(stack, "order_svc", sql, outbox_id),
        until=lambda r: r[0]["parked_at"] is not None and r[0]["parked_at"] > first_parked_at,
        what="the republished row tried and parked again",
        timeout_s=60,
    )
    assert len(rows) == 1
