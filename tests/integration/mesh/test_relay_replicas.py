"""Two outbox relays on one database and the real Kafka: one leads (publishes and purges), the
other stands by; the leader SIGKILLed (its connection gone) hands its work to the standby."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import pytest

from mesh.messaging.events import OutgoingEvent
from mesh.messaging.kafka import KafkaProducer, Topics
from mesh.messaging.outbox import add_events
from mesh.messaging.relay import OutboxRelay, RelaySettings
from mesh.settings.common import KafkaSettings
from mesh.storage.engine import asyncpg_dsn, create_engine, session_factory
from oms.order.v1 import events_pb2, order_pb2
from testkit.topics import read_topic
from testkit.wait import eventually

pytestmark = pytest.mark.integration


@dataclass
class Relay:
    relay: OutboxRelay
    producer: KafkaProducer
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


@dataclass
class Outbox:
    url: str
    topic: str
    relays: list[Relay]

    @property
    def dsn(self) -> str:
        return asyncpg_dsn(self.url)

    async def write(self, count: int) -> list[str]:
        """``count`` events through the services' own outbox writer; their event ids."""
        key = f"o-{uuid.uuid4().hex[:8]}"
        message = events_pb2.OrderCancelled(order=order_pb2.Order(order_id=key))
        events = [OutgoingEvent(topic=self.topic, key=key, message=message) for _ in range(count)]
        engine = create_engine(self.url, pool_size=1)
        try:
            async with session_factory(engine)() as session, session.begin():
                await add_events(session, events)
        finally:
            await engine.dispose()
        return [e.event_id for e in events]

    def start(self) -> None:
        for replica in self.relays:
            replica.task = asyncio.create_task(replica.relay.run(replica.stop))

    async def fetchval(self, query: str, *args: object) -> object:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()


StartRelays = Callable[..., Awaitable[Outbox]]


@pytest.fixture
async def start_relays(
    database_factory: Callable[[str], Awaitable[str]], kafka: KafkaSettings
) -> AsyncIterator[StartRelays]:
    started: list[Relay] = []

    async def make(**settings: object) -> Outbox:
        """Two relays on a fresh database, not yet started (``Outbox.start``)."""
        url = await database_factory("order_svc")
        for n in range(2):
            producer = KafkaProducer(kafka, client_id=f"relay-replica-{n}")
            await producer.start()
            relay = OutboxRelay(
                dsn=asyncpg_dsn(url),
                producer=producer,
                source=f"/relay-replica-{uuid.uuid4().hex[:8]}",
                settings=RelaySettings(idle_poll_s=0.1, retry_initial_s=0.05, retry_max_s=0.2, **settings),  # type: ignore[arg-type]
            )
            started.append(Relay(relay, producer))
        return Outbox(url, Topics(kafka.topic_prefix).name("orders"), started)

    try:
        yield make
    finally:
        for replica in started:
            replica.stop.set()
            if replica.task is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(replica.task, timeout=15)
            await replica.producer.stop(flush_timeout_s=2)


async def all_published(outbox: Outbox) -> bool:
    return await outbox.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def leader_pid(outbox: Outbox) -> object:
    """The backend holding the relay's advisory lock (None: no leader right now)."""
    return await outbox.fetchval(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )


async def test_one_relay_leads_and_the_standby_takes_over_when_the_leader_is_killed(
    start_relays: StartRelays, kafka: KafkaSettings
) -> None:
    outbox = await start_relays()
    outbox.start()
    before = await outbox.write(10)
    await eventually(lambda: all_published(outbox), what="the first events published")
    [leader] = [r for r in outbox.relays if r.relay.published_total]  # one publishes, one stands by
    [standby] = [r for r in outbox.relays if r is not leader]
    assert leader.relay.published_total == 10 and standby.relay.published_total == 0

    # SIGKILL: the process, and with it its connection and the lock, are gone at once.
    pid = await eventually(lambda: leader_pid(outbox), what="the leader's lock")
    assert await outbox.fetchval("SELECT pg_terminate_backend($1)", pid)
    assert leader.task is not None
    leader.task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(leader.task, timeout=10)

    after = await outbox.write(10)
    await eventually(lambda: all_published(outbox), what="the standby publishing the later events")
    assert standby.relay.published_total == 10
    messages = await read_topic(kafka.bootstrap, outbox.topic, at_least=20)
    ids = Counter(m.headers["ce_id"] for m in messages)
    assert set(ids) == set(before + after)
    assert set(ids.values()) == {1}, "killed while idle, so nothing was due again"


async def test_only_the_leader_purges_and_a_large_purge_goes_in_batches(start_relays: StartRelays) -> None:
    outbox = await start_relays(purge_batch=7, purge_every_s=3600.0)
    # Rows published and events handled long ago (25 of each), beside ones the purge must keep.
    await outbox.fetchval(
        "INSERT INTO outbox (event_id, topic, message_key, event_type, payload, published_at, created_at) "
        "SELECT 'old-' || n, 't', 'k', 'x', ''::bytea, now() - interval '3 days', now() - interval '3 days' "
        "FROM generate_series(1, 25) n"
    )
    await outbox.fetchval(
        "INSERT INTO inbox (consumer, event_id, processed_at) "
        "SELECT 'c', 'old-' || n, now() - interval '30 days' FROM generate_series(1, 25) n"
    )
    await outbox.fetchval("INSERT INTO inbox (consumer, event_id) SELECT 'c', 'new-' || n FROM generate_series(1, 3) n")
    kept = await outbox.write(3)
    outbox.start()
    await eventually(
        lambda: outbox.fetchval("SELECT count(*) FROM outbox WHERE event_id LIKE 'old-%'"),
        until=lambda n: n == 0,
        what="every old outbox row purged",
    )
    await eventually(
        lambda: outbox.fetchval("SELECT count(*) FROM inbox WHERE event_id LIKE 'old-%'"),
        until=lambda n: n == 0,
        what="every old inbox row purged",
    )
    await eventually(lambda: all_published(outbox), what="the new events published")
    assert await outbox.fetchval("SELECT count(*) FROM inbox") == 3
    assert await outbox.fetchval("SELECT count(*) FROM outbox WHERE event_id = ANY($1)", kept) == 3
    # One relay purged all 50 rows (in statements of at most 7), the other none.
    assert sorted(r.relay.purged_total for r in outbox.relays) == [0, 50]
