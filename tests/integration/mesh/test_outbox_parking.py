"""The outbox relay against the real Kafka and PostgreSQL: a row the broker refuses for good is
parked with its error, and the rows after it are published, in order, by a relay that keeps
running. Parked rows are listed and republished (mesh.messaging.outbox_parking)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.messaging.events import OutgoingEvent
from mesh.messaging.kafka import KafkaProducer, Topics
from mesh.messaging.outbox import OUTBOX, add_events
from mesh.messaging.outbox_parking import list_parked, republish
from mesh.messaging.relay import OutboxRelay, RelaySettings
from mesh.settings.common import KafkaSettings
from mesh.storage.engine import asyncpg_dsn, create_engine, session_factory
from oms.order.v1 import events_pb2, order_pb2
from testkit.processes import free_port
from testkit.topics import read_topic
from testkit.wait import eventually

pytestmark = pytest.mark.integration

# Twice the broker's and the client's default maximum message size (about 1 MB); random
# letters, so that lz4 cannot compress it below the limit either.
OVERSIZED_REASON_CHARS = 2_000_000


@dataclass
class RelayRun:
    engine: AsyncEngine
    relay: OutboxRelay
    task: asyncio.Task[None]
    source: str
    topic: str
    key: str

    async def write(self, reason: str) -> str:
        """Writes one OrderCancelled through the service's own outbox writer; returns its event id."""
        message = events_pb2.OrderCancelled(order=order_pb2.Order(order_id=self.key), reason=reason)
        event = OutgoingEvent(topic=self.topic, key=self.key, message=message)
        async with session_factory(self.engine)() as session, session.begin():
            await add_events(session, [event])
        return event.event_id

    async def row(self, event_id: str) -> Any:
        async with self.engine.connect() as conn:
            query = sa.select(OUTBOX.c.published_at, OUTBOX.c.parked_at, OUTBOX.c.park_error, OUTBOX.c.id)
            return (await conn.execute(query.where(OUTBOX.c.event_id == event_id))).one()

    def metric(self, name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, {"source": self.source, **labels}) or 0.0


RelayFactory = Callable[..., Awaitable[RelayRun]]


@pytest.fixture
async def start_relay(
    database_factory: Callable[[str], Awaitable[str]], kafka: KafkaSettings
) -> AsyncIterator[RelayFactory]:
    runs: list[tuple[RelayRun, asyncio.Event, KafkaProducer]] = []
    url = await database_factory("order_svc")
    engine = create_engine(url, pool_size=2)

    async def start(
        *, producer_config: dict[str, Any] | None = None, topic: str | None = None, bootstrap: str | None = None
    ) -> RelayRun:
        settings_of_kafka = kafka.model_copy(update={"bootstrap": bootstrap}) if bootstrap else kafka
        producer = KafkaProducer(settings_of_kafka, client_id="parking-test", extra_config=producer_config)
        await producer.start()
        source = f"/parking-test-{uuid.uuid4().hex[:8]}"
        settings = RelaySettings(idle_poll_s=0.2, measure_every_s=0.05, retry_initial_s=0.05, retry_max_s=0.5)
        relay = OutboxRelay(dsn=asyncpg_dsn(url), producer=producer, source=source, settings=settings)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        run = RelayRun(
            engine, relay, task, source, topic or Topics(kafka.topic_prefix).name("orders"), f"o-{uuid.uuid4().hex}"
        )
        runs.append((run, stop, producer))
        return run

    yield start
    for run, stop, producer in runs:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(run.task, timeout=15)
        await producer.stop(flush_timeout_s=2)
    await engine.dispose()


def oversized() -> str:
    return "".join(random.choices(string.ascii_letters, k=OVERSIZED_REASON_CHARS))


async def published_reasons(kafka: KafkaSettings, run: RelayRun, count: int) -> list[str]:
    messages = await read_topic(kafka.bootstrap, run.topic, at_least=count)
    return [events_pb2.OrderCancelled.FromString(m.value).reason for m in messages if m.key == run.key]


async def test_an_oversized_row_is_parked_and_the_rows_after_it_are_published_in_order(
    start_relay: RelayFactory, kafka: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    # The client refuses the message itself (larger than its message.max.bytes): produce() raises.
    run = await start_relay()
    first = await run.write("ok 1")
    too_large = await run.write(oversized())
    await run.write("ok 2")
    last = await run.write("ok 3")

    await eventually(lambda: run.row(last), until=lambda r: r.published_at is not None, what="the last row sent")
    parked = await run.row(too_large)
    assert parked.published_at is None and parked.parked_at is not None
    assert parked.park_error.startswith("MSG_SIZE_TOO_LARGE")
    assert (await run.row(first)).published_at is not None
    assert await published_reasons(kafka, run, 3) == ["ok 1", "ok 2", "ok 3"]
    [logged] = [r for r in caplog.records if r.levelname == "ERROR" and "parked" in r.getMessage()]
    assert too_large in logged.getMessage() and run.topic in logged.getMessage()
    assert "MSG_SIZE_TOO_LARGE" in logged.getMessage() and "oms.order.v1.OrderCancelled" in logged.getMessage()
    assert logged.__dict__["event_id"] == too_large and logged.__dict__["topic"] == run.topic

    assert not run.task.done(), "the relay keeps running"
    assert run.metric("oms_outbox_events_parked_total", topic=run.topic) == 1
    await eventually(
        lambda: asyncio.sleep(0, run.metric("oms_outbox_parked")), until=lambda v: v == 1, what="parked gauge at 1"
    )
    assert run.metric("oms_outbox_backlog") == 0, "a parked row is not backlog"

    # Not wedged: what is written later goes out too.
    later = await run.write("ok 4")
    await eventually(lambda: run.row(later), until=lambda r: r.published_at is not None, what="a later row sent")

    listed = await list_parked(run.engine, limit=10, after_id=0, with_payload=False)
    assert [(p.event_id, p.topic, p.message_key) for p in listed] == [(too_large, run.topic, run.key)]
    assert listed[0].payload == b"" and listed[0].payload_size > OVERSIZED_REASON_CHARS
    assert listed[0].park_error == parked.park_error and listed[0].event_type == "oms.order.v1.OrderCancelled"
    assert await list_parked(run.engine, limit=10, after_id=listed[0].id) == []

    # Republished while still too large: tried again, parked again, counted again.
    assert await republish(run.engine, [listed[0].id, 10**12]) == 1
    await eventually(
        lambda: asyncio.sleep(0, run.metric("oms_outbox_events_parked_total", topic=run.topic)),
        until=lambda v: v == 2,
        what="the republished row parked again",
    )
    assert (await run.row(too_large)).parked_at is not None
    assert await republish(run.engine, [(await run.row(first)).id]) == 0, "a published row is not republished"
    assert not run.task.done()


async def test_a_row_the_broker_refuses_is_parked_and_republished_once_the_topic_accepts_it(
    start_relay: RelayFactory, kafka: KafkaSettings
) -> None:
    # The client would send it (its limit is raised); the broker refuses it (topic limit ~1 MB).
    run = await start_relay(producer_config={"message.max.bytes": 10_000_000})
    too_large = await run.write(oversized())
    after = await run.write("after the large one")

    await eventually(lambda: run.row(after), until=lambda r: r.published_at is not None, what="the next row sent")
    parked = await eventually(lambda: run.row(too_large), until=lambda r: r.parked_at is not None, what="parked")
    assert parked.published_at is None and "MSG_SIZE_TOO_LARGE" in parked.park_error
    assert len(parked.park_error) <= 2000

    await asyncio.to_thread(_raise_topic_limit, kafka.bootstrap, run.topic, 10_000_000)
    assert await republish(run.engine, [parked.id]) == 1
    sent = await eventually(
        lambda: run.row(too_large), until=lambda r: r.published_at is not None, timeout_s=30, what="republished"
    )
    assert sent.parked_at is None and sent.park_error is None
    reasons = await published_reasons(kafka, run, 2)
    assert reasons[0] == "after the large one" and len(reasons[1]) == OVERSIZED_REASON_CHARS
    assert not run.task.done()


async def test_a_row_for_a_topic_that_does_not_exist_is_parked(start_relay: RelayFactory, kafka: KafkaSettings) -> None:
    # The broker never auto-creates topics; librdkafka gives up on an unknown one after the
    # propagation time (30 s by default, shortened here).
    missing = f"{kafka.topic_prefix}no-such-topic"
    run = await start_relay(producer_config={"topic.metadata.propagation.max.ms": 1000}, topic=missing)
    lost = await run.write("to nowhere")
    parked = await eventually(
        lambda: run.row(lost), until=lambda r: r.parked_at is not None, timeout_s=40, what="parked"
    )
    assert "UNKNOWN_TOPIC" in parked.park_error and parked.published_at is None
    assert not run.task.done()


async def test_rows_that_cannot_be_delivered_for_now_stay_pending_and_are_not_parked(
    start_relay: RelayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # No broker at that address: every delivery times out (transient), again and again.
    dead = f"127.0.0.1:{free_port()}"
    run = await start_relay(producer_config={"message.timeout.ms": 300}, bootstrap=dead)
    waiting = await run.write("waits for the broker")
    await eventually(
        lambda: asyncio.sleep(0, sum("outbox rows not delivered, retrying" in r.message for r in caplog.records)),
        until=lambda n: n >= 3,
        timeout_s=30,
        what="three failed attempts",
    )
    row = await run.row(waiting)
    assert row.published_at is None and row.parked_at is None, "transient: neither sent nor parked"
    assert run.metric("oms_outbox_events_parked_total", topic=run.topic) == 0
    assert not run.task.done()


def _raise_topic_limit(bootstrap: str, topic: str, max_bytes: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    entry = ConfigEntry("max.message.bytes", str(max_bytes), incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


async def test_list_and_republish_with_a_session_or_a_connection(
    database_factory: Callable[[str], Awaitable[str]],
) -> None:
    engine = create_engine(await database_factory("notify_svc"), pool_size=2)
    try:
        async with engine.begin() as conn:
            for n in range(3):
                await conn.execute(
                    sa.insert(OUTBOX).values(
                        event_id=f"e-{n}",
                        topic="t",
                        message_key="k",
                        event_type="x.Y",
                        payload=b"p" * n,
                        parked_at=sa.func.now(),
                        park_error=f"MSG_SIZE_TOO_LARGE: {n}",
                    )
                )
            await conn.execute(
                sa.insert(OUTBOX).values(event_id="pending", topic="t", message_key="k", event_type="x.Y", payload=b"")
            )
        async with session_factory(engine)() as session:
            first = await list_parked(session, limit=2, after_id=0)
            rest = await list_parked(session, limit=2, after_id=first[-1].id)
            assert [p.event_id for p in first + rest] == ["e-0", "e-1", "e-2"]
            assert [p.payload for p in first + rest] == [b"", b"p", b"pp"]
            assert rest[0].park_error == "MSG_SIZE_TOO_LARGE: 2" and not session.in_transaction()
            async with session.begin():  # the caller's transaction: rolled back, nothing changes
                assert await republish(session, [first[0].id]) == 1
                await session.rollback()
        async with engine.connect() as conn:
            assert await republish(conn, [first[0].id, first[1].id]) == 2
            assert await republish(conn, [first[0].id]) == 0, "no longer parked"
        assert [p.event_id for p in await list_parked(engine, 10, 0)] == ["e-2"]
    finally:
        await engine.dispose()
