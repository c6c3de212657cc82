"""What the payment integration tests share: order and inventory events as the other services
publish them, the payments table read directly, and the simulated provider's ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from google.protobuf.message import Message

from mesh.messaging.events import cloudevent_headers
from mesh.messaging.kafka import KafkaProducer, Topics
from mesh.serving.wire import money
from mesh.settings.common import KafkaSettings
from mesh.storage.engine import asyncpg_dsn
from oms.inventory.v1 import events_pb2 as inventory_events
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2
from payment_svc.adapters.simulated_provider import read_ledger


def order(order_id: str, *, unit_minor: int = 750, quantity: int = 2) -> order_pb2.Order:
    line = unit_minor * quantity
    return order_pb2.Order(
        order_id=order_id,
        customer_id="cust-" + order_id,
        status=order_pb2.ORDER_STATUS_PENDING,
        items=[
            order_pb2.OrderItem(
                product_id="sku-mug",
                quantity=quantity,
                product_name="Blue Mug",
                unit_price=money(unit_minor, "EUR"),
                line_total=money(line, "EUR"),
            )
        ],
        total=money(line, "EUR"),
    )


def placed(order_id: str, payment_method: str = "tok_visa", **kw: int) -> order_events.OrderPlaced:
    return order_events.OrderPlaced(
        order=order(order_id, **kw),
        customer=order_events.CustomerContact(customer_id="cust-" + order_id, email="ada@example.com"),
        payment_method=payment_method,
    )


def reserved(order_id: str) -> inventory_events.InventoryReserved:
    return inventory_events.InventoryReserved(
        order_id=order_id, items=[inventory_events.ReservedItem(product_id="sku-mug", quantity=2)]
    )


def cancelled(order_id: str, reason: str = "customer asked") -> order_events.OrderCancelled:
    return order_events.OrderCancelled(
        order=order(order_id), previous_status=order_pb2.ORDER_STATUS_PAID, reason=reason
    )


def shipped(order_id: str) -> order_events.OrderStatusChanged:
    return order_events.OrderStatusChanged(
        order=order(order_id),
        old_status=order_pb2.ORDER_STATUS_PAID,
        new_status=order_pb2.ORDER_STATUS_SHIPPED,
    )


async def publish(
    producer: KafkaProducer, kafka: KafkaSettings, topic: str, order_id: str, message: Message, event_id: str = ""
) -> str:
    """Publishes like a relay does (CloudEvents headers, keyed by order); returns the event id."""
    event_id = event_id or str(uuid.uuid4())
    headers = cloudevent_headers(
        event_id=event_id, event_type=message.DESCRIPTOR.full_name, source="tests", time=datetime.now(UTC)
    )
    await producer.send(
        Topics(kafka.topic_prefix).name(topic), key=order_id, value=message.SerializeToString(), headers=headers
    )
    return event_id


async def payment_row(database_url: str, order_id: str) -> dict[str, Any] | None:
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        row = await conn.fetchrow("SELECT * FROM payments WHERE order_id = $1", order_id)
        return dict(row) if row else None
    finally:
        await conn.close()


async def outbox_types(database_url: str, order_id: str) -> list[str]:
    """The event types payment wrote for ``order_id``, in order."""
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        rows = await conn.fetch("SELECT event_type FROM outbox WHERE message_key = $1 ORDER BY id", order_id)
        return [r["event_type"] for r in rows]
    finally:
        await conn.close()


def authorizations(ledger: str, order_id: str) -> list[dict[str, Any]]:
    """The authorizations the simulated provider made for ``order_id`` (each under its own key)."""
    books = read_ledger(ledger)
    return [op for op in books["operations"] if op["op"] == "authorize" and op["order_id"] == order_id]
