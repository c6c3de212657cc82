"""Through the real Kafka: an OrderPlaced on the orders topic becomes InventoryReserved on the
inventory topic, via the service's own consumer and outbox relay running in-process."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer

from inventory_svc.bootstrap import SERVICE
from mesh.messaging.events import cloudevent_headers, headers_dict
from mesh.messaging.kafka import KafkaProducer
from oms.inventory.v1 import events_pb2 as ev
from oms.order.v1 import events_pb2 as order_events
from testkit.infra import group_id
from testkit.wait import eventually
from tests.integration.inventory.helpers import InventoryApp, order, product_with_stock, unique

pytestmark = pytest.mark.integration


@pytest.fixture
async def workers(inventory: InventoryApp) -> AsyncIterator[InventoryApp]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(inventory.relay(stop)), asyncio.create_task(inventory.consumer(stop))]
    try:
        yield inventory
    finally:
        stop.set()
        done, pending = await asyncio.wait(tasks, timeout=15)
        for task in pending:
            task.cancel()
        for task in done:
            with contextlib.suppress(asyncio.CancelledError):
                task.result()


async def test_order_placed_on_kafka_is_reserved_and_announced(workers: InventoryApp) -> None:
    app = workers
    product_id, order_id = await product_with_stock(app, 5), unique("o")
    placed = order_events.OrderPlaced(order=order(order_id, (product_id, 2)))
    headers = cloudevent_headers(
        event_id=str(uuid.uuid4()), event_type=placed.DESCRIPTOR.full_name, source="tests", time=datetime.now(UTC)
    )
    async with KafkaProducer(app.config.kafka, client_id="inventory-test") as producer:
        await producer.send(
            app.connections.topics.name("orders"), key=order_id, value=placed.SerializeToString(), headers=headers
        )

    reader = Consumer(
        {
            "bootstrap.servers": app.config.kafka.bootstrap,
            "group.id": group_id(app.config.kafka, "inventory-test"),
            "auto.offset.reset": "earliest",
        }
    )
    reader.subscribe([app.connections.topics.name("inventory")])
    seen: list[tuple[str, dict[str, str], ev.InventoryReserved]] = []

    async def reserved_arrived() -> bool:
        for message in await asyncio.to_thread(reader.consume, 100, 0.5):
            if message.error():
                continue
            found = headers_dict(message.headers())
            if found.get("ce_type") == ev.InventoryReserved.DESCRIPTOR.full_name:
                key = (message.key() or b"").decode()
                seen.append((key, found, ev.InventoryReserved.FromString(message.value() or b"")))
        return any(event.order_id == order_id for _, _, event in seen)

    try:
        await eventually(reserved_arrived, timeout_s=45, interval_s=0.01, what="InventoryReserved on Kafka")
    finally:
        await asyncio.to_thread(reader.close)
    key, found, event = next(item for item in seen if item[2].order_id == order_id)
    assert key == order_id
    assert [(i.product_id, i.quantity) for i in event.items] == [(product_id, 2)]
    assert found["ce_source"] == f"/{SERVICE}" and found["ce_specversion"] == "1.0"
    assert found["content-type"] == "application/protobuf" and found["ce_id"] and found["ce_time"]
