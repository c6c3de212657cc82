"""A stock row locked elsewhere for longer than ``lock_timeout``: the consumer's transaction fails
fast with 55P03, which is transient, so the event is retried with backoff (more often than the
poison limit) and applied once the lock is gone; nothing is dead-lettered. Real PostgreSQL,
real Kafka, the service's own consumer."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import pytest
import sqlalchemy as sa
from google.protobuf.message import Message
from prometheus_client import REGISTRY

from mesh.messaging.events import cloudevent_headers
from mesh.messaging.kafka import KafkaProducer, Topics
from mesh.resilience.retry import is_transient
from mesh.storage.engine import asyncpg_dsn
from oms.order.v1 import events_pb2 as order_events
from testkit.topics import read_topic
from testkit.wait import eventually
from tests.integration.inventory.conftest import AppFactory
from tests.integration.inventory.helpers import InventoryApp, level, order, product_with_stock, unique

pytestmark = pytest.mark.integration

LOCK_TIMEOUT_S = 0.2
# More failed attempts than the consumer's poison limit (ConsumerSpec.max_attempts = 5): had
# the lock timeout been taken for a bad message, the event would be in the DLQ by then.
FAILURES_WHILE_LOCKED = 6


@pytest.fixture
async def consuming(make_inventory: AppFactory) -> AsyncIterator[InventoryApp]:
    app = await make_inventory(lock_timeout_s=LOCK_TIMEOUT_S)
    stop = asyncio.Event()
    task = asyncio.create_task(app.consumer(stop))
    try:
        yield app
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=15)


@contextlib.asynccontextmanager
async def stock_row_locked(app: InventoryApp, product_id: str) -> AsyncIterator[None]:
    """Holds ``SELECT ... FOR UPDATE`` on the product's stock row until the block ends."""
    conn = await asyncpg.connect(asyncpg_dsn(app.config.service.database_url))
    try:
        transaction = conn.transaction()
        await transaction.start()
        locked = await conn.fetchval("SELECT product_id FROM stock WHERE product_id = $1 FOR UPDATE", product_id)
        assert locked == product_id
        try:
            yield
        finally:
            await transaction.rollback()
    finally:
        await conn.close()


def failures(app: InventoryApp) -> float:
    labels = {"group": app.consumer_group, "topic": app.connections.topics.name("orders")}
    return REGISTRY.get_sample_value("oms_events_failed_total", labels) or 0.0


def dead_lettered(app: InventoryApp) -> float:
    labels = {"group": app.consumer_group, "topic": app.connections.topics.name("orders")}
    return REGISTRY.get_sample_value("oms_events_dead_lettered_total", labels) or 0.0


async def publish(app: InventoryApp, order_id: str, message: Message) -> None:
    headers = cloudevent_headers(
        event_id=str(uuid.uuid4()), event_type=message.DESCRIPTOR.full_name, source="tests", time=datetime.now(UTC)
    )
    async with KafkaProducer(app.config.kafka, client_id="lock-test") as producer:
        await producer.send(
            app.connections.topics.name("orders"), key=order_id, value=message.SerializeToString(), headers=headers
        )


async def while_locked_then_applied(
    app: InventoryApp, product_id: str, send: Callable[[], Awaitable[None]], *, reserved_after: int
) -> None:
    before = failures(app)
    async with stock_row_locked(app, product_id):
        await send()
        await eventually(
            lambda: asyncio.sleep(0, failures(app) - before),
            until=lambda n: n >= FAILURES_WHILE_LOCKED,
            timeout_s=30,
            what=f"{FAILURES_WHILE_LOCKED} attempts failing on the lock",
        )
        assert (await level(app, product_id)).reserved != reserved_after, "nothing applied while locked"
    await eventually(
        lambda: level(app, product_id),
        until=lambda found: found.reserved == reserved_after,
        timeout_s=30,
        what="the event applied once the lock was released",
    )


async def test_reserve_and_release_wait_out_a_held_stock_lock(consuming: InventoryApp) -> None:
    app = consuming
    product_id, order_id = await product_with_stock(app, 10), unique("o")

    placed = order_events.OrderPlaced(order=order(order_id, (product_id, 3)))
    await while_locked_then_applied(app, product_id, lambda: publish(app, order_id, placed), reserved_after=3)

    cancelled = order_events.OrderCancelled(order=order(order_id), reason="changed my mind")
    await while_locked_then_applied(app, product_id, lambda: publish(app, order_id, cancelled), reserved_after=0)

    final = await level(app, product_id)
    assert (final.quantity, final.reserved) == (10, 0)
    assert dead_lettered(app) == 0
    dlq = await read_topic(
        app.config.kafka.bootstrap, Topics.dead_letter(app.connections.topics.name("orders")), at_least=0, timeout_s=5
    )
    assert dlq == []


async def test_a_lock_timeout_through_sqlalchemy_is_transient(make_inventory: AppFactory) -> None:
    app = await make_inventory(lock_timeout_s=LOCK_TIMEOUT_S)
    product_id = await product_with_stock(app, 1)
    async with stock_row_locked(app, product_id), app.connections.engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError) as caught:
            await conn.execute(sa.text("SELECT 1 FROM stock WHERE product_id = :p FOR UPDATE"), {"p": product_id})
    assert getattr(caught.value.orig, "sqlstate", None) == "55P03"
    assert is_transient(caught.value)
