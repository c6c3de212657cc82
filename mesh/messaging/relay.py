"""The outbox relay: publishes committed events to Kafka and marks them sent.

Several relays may run (one per service instance); a PostgreSQL advisory lock elects one
publisher at a time so events of one aggregate leave in the order they were written. The lock
is held by the leader's connection, so a leader that dies (even SIGKILLed) loses it with that
connection, and a standby, trying again every ``idle_poll_s``, takes over. A relay that dies
after publishing but before marking leaves rows that the next leader publishes again;
consumers' inboxes absorb the duplicates (at-least-once, applied once). The leader alone purges
old outbox and inbox rows, in bounded batches between its publishing batches, so a large purge
neither holds locks on millions of rows in one transaction nor stalls publishing.

Each row's delivery is judged on its own. A row the broker refuses for good (too large, unknown
topic, invalid record: ``mesh.messaging.kafka.is_permanent``) is *parked*: ``parked_at`` and
``park_error`` are set, an ERROR is logged, and the relay goes on with later rows; an operator
republishes it (``mesh.messaging.outbox_parking``). Later events of the same aggregate are not held back
behind a parked one: holding them would let one bad event wedge that aggregate for good, and
the consumers already tolerate a missing or late event (a parked event republished later
arrives after its successors). Rows that failed transiently stay pending and are tried again
after a backoff, while rows delivered alongside them are marked sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from confluent_kafka import Message
from opentelemetry.trace import Span, StatusCode

from mesh.messaging.events import TRACE_HEADERS, cloudevent_headers
from mesh.messaging.kafka import DeliveryError, KafkaProducer
from mesh.messaging.tables import OUTBOX_CHANNEL, PARK_ERROR_MAX_CHARS
from mesh.messaging.telemetry import (
    EVENTS_PARKED,
    EVENTS_PUBLISHED,
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PARKED,
    start_publish_span,
    trace_headers,
)
from mesh.resilience.retry import Backoff

log = logging.getLogger(__name__)

# Failures of the database connection the relay holds (and of reaching it): the relay
# reconnects after a backoff. Anything else escaping run() is a bug and ends the process.
_CONNECTION_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError)


@dataclass(frozen=True)
class RelaySettings:
    batch_size: int = 500
    # Fallback poll when a NOTIFY was missed (e.g. written by another instance while we reconnected).
    idle_poll_s: float = 1.0
    purge_after_s: float = 24 * 3600.0
    purge_every_s: float = 600.0
    # Rows deleted per purge statement; a purge with more to do continues after the next batch.
    purge_batch: int = 5000
    measure_every_s: float = 1.0
    inbox_keep_s: float = 7 * 24 * 3600.0
    # Pause after a batch with transient delivery failures, doubling up to the maximum.
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0


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


@dataclass
class BatchOutcome:
    """What became of one batch: rows sent, rows parked, and the first transient failure."""

    fetched: int = 0
    published: list[int] = field(default_factory=list)
    parked: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    transient_error: BaseException | None = None


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
        self.parked_total = 0
        self.purged_total = 0

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial_s=self._settings.retry_initial_s, max_s=self._settings.retry_max_s)
        while not stop.is_set():
            try:
                await self._lead_while_possible(stop, backoff)
                backoff.reset()
            except _CONNECTION_ERRORS as exc:
                log.warning("outbox relay interrupted, retrying", extra={"error": str(exc)})
                await backoff.wait(stop)

    async def _lead_while_possible(self, stop: asyncio.Event, backoff: Backoff) -> None:
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
            purge_unfinished = False
            while not stop.is_set():
                outcome = await self._publish_batch(conn)
                # The gauges need no more than a reading a second; under load a batch follows
                # almost every commit, and a count per batch would double the relay's queries.
                if time.monotonic() >= next_measure:
                    next_measure = time.monotonic() + self._settings.measure_every_s
                    await self._measure_backlog(conn)
                if purge_unfinished or time.monotonic() >= next_purge:
                    if not purge_unfinished:
                        next_purge = time.monotonic() + self._settings.purge_every_s
                    purge_unfinished = await self._purge_published(conn)
                if outcome.transient_error is not None:
                    # Brokers down or slow: the undelivered rows stay pending; try them again
                    # later, keeping the connection and the leadership.
                    log.warning(
                        "outbox rows not delivered, retrying",
                        extra={"rows": len(outcome.retry), "error": str(outcome.transient_error)},
                    )
                    await backoff.wait(stop)
                    continue
                backoff.reset()
                if outcome.fetched < self._settings.batch_size and not purge_unfinished:
                    wake.clear()
                    await _wait_any(stop, wake.wait(), asyncio.sleep(self._settings.idle_poll_s))
        finally:
            await conn.close(timeout=5)

    async def _publish_batch(self, conn: asyncpg.Connection) -> BatchOutcome:
        records = await conn.fetch(
            "SELECT id, event_id, topic, message_key, event_type, payload, headers, created_at "
            "FROM outbox WHERE published_at IS NULL AND parked_at IS NULL ORDER BY id LIMIT $1",
            self._settings.batch_size,
        )
        outcome = BatchOutcome(fetched=len(records))
        if not records:
            return outcome
        rows = [_row(record) for record in records]
        results = await self._publish(rows)
        park_errors: list[str] = []
        for row, result in zip(rows, results, strict=True):
            if result is None:
                outcome.published.append(row.id)
            elif _is_permanent(result):
                outcome.parked.append(row.id)
                park_errors.append(_park_error(result))
            else:
                outcome.retry.append(row.id)
                outcome.transient_error = outcome.transient_error or result
        # Both marks in one transaction: a relay that dies here re-sends the batch's delivered
        # rows (absorbed by the inboxes) and re-parks the parked ones, nothing worse.
        async with conn.transaction():
            if outcome.published:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", outcome.published
                )
            if outcome.parked:
                await conn.execute(
                    "UPDATE outbox SET parked_at = now(), park_error = v.error "
                    "FROM unnest($1::bigint[], $2::text[]) AS v(id, error) "
                    "WHERE outbox.id = v.id AND outbox.published_at IS NULL",
                    outcome.parked,
                    park_errors,
                )
        by_id = {row.id: row for row in rows}
        for row_id, error in zip(outcome.parked, park_errors, strict=True):
            self._report_parked(by_id[row_id], error)
        for row_id in outcome.published:
            EVENTS_PUBLISHED.labels(self._source, by_id[row_id].topic).inc()
        self.published_total += len(outcome.published)
        self.parked_total += len(outcome.parked)
        return outcome

    async def _publish(self, rows: Sequence[_Row]) -> list[BaseException | None]:
        """Hands every row to the producer at once; per row, None when delivered, else why not."""
        futures: list[asyncio.Future[Message]] = []
        spans: list[Span] = []
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
        results = await asyncio.gather(*futures, return_exceptions=True)
        outcomes: list[BaseException | None] = []
        for span, result in zip(spans, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, DeliveryError):
                    # Not a refusal by Kafka but a failure of our own: a bug, not a bad row.
                    for other in spans:
                        other.end()
                    raise result
                span.set_status(StatusCode.ERROR, str(result))
                outcomes.append(result)
            else:
                outcomes.append(None)
            span.end()
        return outcomes

    def _report_parked(self, row: _Row, error: str) -> None:
        EVENTS_PARKED.labels(self._source, row.topic).inc()
        # The text log format shows only the message, so the message says it all.
        log.error(
            "outbox event %s (%s, topic %s, outbox id %d) parked, the broker refused it: %s",
            row.event_id,
            row.event_type,
            row.topic,
            row.id,
            error,
            extra={
                "event_id": row.event_id,
                "event_type": row.event_type,
                "topic": row.topic,
                "outbox_id": row.id,
                "payload_bytes": len(row.payload),
                "error": error,
            },
        )

    async def _measure_backlog(self, conn: asyncpg.Connection) -> None:
        # Three sub-queries so that each one reads one partial index (pending, parked).
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL) AS backlog, "
            "(SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) "
            " FROM outbox WHERE published_at IS NULL AND parked_at IS NULL) AS age, "
            "(SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL AND published_at IS NULL) AS parked"
        )
        OUTBOX_BACKLOG.labels(self._source).set(row["backlog"])
        OUTBOX_OLDEST_AGE.labels(self._source).set(float(row["age"]))
        OUTBOX_PARKED.labels(self._source).set(row["parked"])

    async def _purge_published(self, conn: asyncpg.Connection) -> bool:
        """Drops up to a batch of outbox rows published long ago, and of inbox rows older than
        any redelivery; True when a table had more to drop (the caller comes back soon).

        Parked rows are never purged: they wait for an operator. Consumers' inboxes, not the
        outbox, keep the dedupe state; an inbox row is needed only while its event can still be
        redelivered, i.e. within the topic's retention (kept shorter than ``inbox_keep_s``).
        Each statement is its own short transaction over at most ``purge_batch`` rows.
        """
        limit = self._settings.purge_batch
        outbox = await conn.fetchval(
            "WITH gone AS (DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
            "WHERE published_at < now() - make_interval(secs => $1) LIMIT $2) RETURNING 1) SELECT count(*) FROM gone",
            self._settings.purge_after_s,
            limit,
        )
        inbox = await conn.fetchval(
            "WITH gone AS (DELETE FROM inbox WHERE (consumer, event_id) IN (SELECT consumer, event_id FROM inbox "
            "WHERE processed_at < now() - make_interval(secs => $1) LIMIT $2) RETURNING 1) SELECT count(*) FROM gone",
            self._settings.inbox_keep_s,
            limit,
        )
        self.purged_total += outbox + inbox
        return bool(outbox >= limit or inbox >= limit)


def _is_permanent(error: BaseException) -> bool:
    return isinstance(error, DeliveryError) and error.permanent


def _park_error(error: BaseException) -> str:
    name = error.error.name() if isinstance(error, DeliveryError) else type(error).__name__
    return f"{name}: {error}"[:PARK_ERROR_MAX_CHARS]


def _row(record: Any) -> _Row:
    headers = record["headers"]
    if isinstance(headers, str):
        headers = json.loads(headers)
    # Only text values are of use (trace context); anything else stored there is ignored
    # rather than allowed to break the publication of the row.
    text_headers = {str(k): v for k, v in headers.items() if isinstance(v, str)} if isinstance(headers, dict) else {}
    return _Row(
        id=record["id"],
        event_id=record["event_id"],
        topic=record["topic"],
        message_key=record["message_key"],
        event_type=record["event_type"],
        payload=bytes(record["payload"]),
        headers=text_headers,
        created_at=record["created_at"],
    )


async def _wait_any(stop: asyncio.Event, *waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in (stop.wait(), *waits)]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
