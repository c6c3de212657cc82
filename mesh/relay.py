"""The outbox relay: publishes committed events to Kafka and marks them sent.

Several relays may run (one per service instance); a PostgreSQL advisory lock elects one
publisher at a time so events of one aggregate leave in the order they were written. A relay
that dies after publishing but before marking leaves rows that the next leader publishes again;
consumers' inboxes absorb the duplicates (at-least-once, applied once).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from mesh.events import TRACE_HEADERS, cloudevent_headers
from mesh.kafka import DeliveryError, KafkaProducer
from mesh.messaging_tables import OUTBOX_CHANNEL
from mesh.messaging_telemetry import (
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    start_publish_span,
    trace_headers,
)
from mesh.retry import Backoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelaySettings:
    batch_size: int = 500
    # Fallback poll when a NOTIFY was missed (e.g. written by another instance while we reconnected).
    idle_poll_s: float = 1.0
    purge_after_s: float = 24 * 3600.0
    purge_every_s: float = 600.0
    measure_every_s: float = 1.0
    inbox_keep_s: float = 7 * 24 * 3600.0


@dataclass(frozen=True)
class _Row:
    id: int
    event_id: str
    topic: str
    message_key: str
    event_type: str
    payload: bytes
    headers: dict[str, str]
    created_at: datetime


class OutboxRelay:
    def __init__(
        self, *, dsn: str, producer: KafkaProducer, source: str, settings: RelaySettings | None = None
    ) -> None:
        self._dsn = dsn
        self._producer = producer
        self._source = source
        self._settings = settings or RelaySettings()
        # One lock per database: relays of the same service compete, other services don't.
        self._lock_key = zlib.crc32(b"oms-outbox-relay")
        self.published_total = 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial_s=0.2, max_s=5.0)
        while not stop.is_set():
            try:
                await self._lead_while_possible(stop)
                backoff.reset()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, DeliveryError, TimeoutError) as exc:
                log.warning("outbox relay interrupted, retrying", extra={"error": str(exc)})
                await backoff.wait(stop)

    async def _lead_while_possible(self, stop: asyncio.Event) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self._dsn, timeout=10)
        wake = asyncio.Event()
        try:
            await conn.add_listener(OUTBOX_CHANNEL, lambda *_: wake.set())
            while not stop.is_set():
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                    break
                # Another relay leads; stand by and try again.
                await _wait_any(stop, asyncio.sleep(self._settings.idle_poll_s))
            next_purge = next_measure = 0.0
            while not stop.is_set():
                published = await self._publish_batch(conn)
                # The gauges need no more than a reading a second; under load a batch follows
                # almost every commit, and a count per batch would double the relay's queries.
                if time.monotonic() >= next_measure:
                    next_measure = time.monotonic() + self._settings.measure_every_s
                    await self._measure_backlog(conn)
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + self._settings.purge_every_s
                    await self._purge_published(conn)
                if published < self._settings.batch_size:
                    wake.clear()
                    await _wait_any(stop, wake.wait(), asyncio.sleep(self._settings.idle_poll_s))
        finally:
            await conn.close(timeout=5)

    async def _publish_batch(self, conn: asyncpg.Connection) -> int:
        records = await conn.fetch(
            "SELECT id, event_id, topic, message_key, event_type, payload, headers, created_at "
            "FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self._settings.batch_size,
        )
        if not records:
            return 0
        rows = [_row(record) for record in records]
        await self._publish(rows)
        await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", [r.id for r in rows])
        self.published_total += len(rows)
        return len(rows)

    async def _publish(self, rows: Sequence[_Row]) -> None:
        futures = []
        spans = []
        for row in rows:
            stored = {k: v for k, v in row.headers.items() if k in TRACE_HEADERS}
            span = start_publish_span(
                topic=row.topic, key=row.message_key, event_id=row.event_id, event_type=row.event_type, stored=stored
            )
            spans.append(span)
            headers = cloudevent_headers(
                event_id=row.event_id,
                event_type=row.event_type,
                source=self._source,
                time=row.created_at,
                extra=trace_headers(span),
            )
            futures.append(self._producer.produce(row.topic, key=row.message_key, value=row.payload, headers=headers))
        try:
            # Every message of the batch must be acknowledged before any row is marked sent.
            await asyncio.gather(*futures)
        finally:
            for span in spans:
                span.end()
        for row in rows:
            EVENTS_PUBLISHED.labels(self._source, row.topic).inc()

    async def _measure_backlog(self, conn: asyncpg.Connection) -> None:
        row = await conn.fetchrow(
            "SELECT count(*) AS backlog, coalesce(extract(epoch FROM now() - min(created_at)), 0) AS age "
            "FROM outbox WHERE published_at IS NULL"
        )
        OUTBOX_BACKLOG.labels(self._source).set(row["backlog"])
        OUTBOX_OLDEST_AGE.labels(self._source).set(float(row["age"]))

    async def _purge_published(self, conn: asyncpg.Connection) -> None:
        """Drops outbox rows published long ago, and inbox rows older than any redelivery.

        Consumers' inboxes, not the outbox, keep the dedupe state; an inbox row is needed only
        while its event can still be redelivered, i.e. within the topic's retention (kept
        shorter than ``inbox_keep_s``).
        """
        await conn.execute(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
            self._settings.purge_after_s,
        )
        await conn.execute(
            "DELETE FROM inbox WHERE processed_at < now() - make_interval(secs => $1)",
            self._settings.inbox_keep_s,
        )


def _row(record: Any) -> _Row:
    headers = record["headers"]
    if isinstance(headers, str):
        headers = json.loads(headers)
    return _Row(
        id=record["id"],
        event_id=record["event_id"],
        topic=record["topic"],
        message_key=record["message_key"],
        event_type=record["event_type"],
        payload=bytes(record["payload"]),
        headers=dict(headers or {}),
        created_at=record["created_at"],
    )


async def _wait_any(stop: asyncio.Event, *waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in (stop.wait(), *waits)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
