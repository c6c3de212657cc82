"""Issue 12's worst case, end to end: an event larger than the broker's maximum message size in
the order service's outbox (a cancellation whose reason is 2 MB, written by the service's own
outbox writer) no longer takes order_svc down nor wedges the saga. The row is parked with its
error and counted, new orders are still confirmed, and a republished row is tried again."""

from __future__ import annotations

import random
import string

import grpc
import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from mesh.messaging.events import OutgoingEvent
from mesh.messaging.kafka import Topics
from mesh.messaging.outbox import OUTBOX, add_events
from mesh.messaging.outbox_parking import list_parked, republish
from mesh.storage.engine import create_engine, session_factory
from oms.order.v1 import events_pb2, order_pb2
from testkit.clients import Clients
from testkit.processes import Mesh, free_port
from testkit.wait import eventually
from tests.e2e.conftest import start_core

CONFIRMED = order_pb2.ORDER_STATUS_CONFIRMED


async def metric(port: int, name: str) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.labels.get("source") == "/order_svc"
    )


@pytest.mark.e2e
async def test_an_oversized_event_is_parked_and_orders_are_still_confirmed(mesh: Mesh) -> None:
    metrics_port = free_port()
    await start_core(mesh, order_env={"OMS_ORDER_METRICS_PORT": str(metrics_port)})
    order_process = mesh.services["order"]
    order_channel = grpc.aio.insecure_channel(order_process.address)
    inventory_channel = grpc.aio.insecure_channel(mesh.services["inventory"].address)
    engine = create_engine(mesh.databases["order_svc"], pool_size=2)
    clients = Clients.connect(order_channel, inventory_channel, mesh.metadata())
    try:
        product, customer = await clients.product(stock=10), await clients.customer()
        before = await clients.place(customer, [(product, 1)])
        assert (await clients.settled(before.order_id)).status == CONFIRMED

        reason = "".join(random.choices(string.ascii_letters, k=2_000_000))
        oversized = OutgoingEvent(
            topic=Topics(mesh.kafka.topic_prefix).name("orders"),
            key=before.order_id,
            message=events_pb2.OrderCancelled(order=before, reason=reason),
        )
        async with session_factory(engine)() as session, session.begin():
            await add_events(session, [oversized])

        after = await clients.place(customer, [(product, 2)])
        assert (await clients.settled(after.order_id)).status == CONFIRMED, "the saga goes on"

        [parked] = await eventually(
            lambda: list_parked(engine, limit=10, after_id=0, with_payload=False), what="the oversized row parked"
        )
        assert parked.event_id == oversized.event_id and parked.park_error.startswith("MSG_SIZE_TOO_LARGE")
        async with engine.connect() as conn:
            pending = await conn.scalar(
                sa.select(sa.func.count()).where(OUTBOX.c.published_at.is_(None), OUTBOX.c.parked_at.is_(None))
            )
        assert pending == 0, "nothing waits behind the parked row"
        assert await metric(metrics_port, "oms_outbox_events_parked_total") == 1
        await eventually(
            lambda: metric(metrics_port, "oms_outbox_parked"), until=lambda v: v == 1, what="parked gauge at 1"
        )
        assert order_process.process is not None and order_process.process.returncode is None, "no crash"

        assert await republish(engine, [parked.id]) == 1
        await eventually(
            lambda: metric(metrics_port, "oms_outbox_events_parked_total"),
            until=lambda v: v == 2,
            what="the republished row tried again (and parked again: it is still too large)",
        )
        third = await clients.place(customer, [(product, 1)])
        assert (await clients.settled(third.order_id)).status == CONFIRMED
        assert order_process.process.returncode is None
    finally:
        await order_channel.close()
        await inventory_channel.close()
        await engine.dispose()
