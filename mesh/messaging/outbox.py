"""Writing events into the outbox, in the caller's own database transaction."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from opentelemetry import propagate
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mesh.messaging.events import OutgoingEvent
from mesh.messaging.tables import inbox_table, outbox_table

_metadata = sa.MetaData()
OUTBOX = outbox_table(_metadata)
INBOX = inbox_table(_metadata)


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


async def add_events(session: AsyncSession, events: Iterable[OutgoingEvent]) -> None:
    """Stages events in the outbox; they are published only if the transaction commits."""
    trace = current_trace_headers()
    rows = [
        {
            "event_id": event.event_id,
            "topic": event.topic,
            "message_key": event.key,
            "event_type": event.event_type,
            "payload": event.message.SerializeToString(),
            "headers": trace,
        }
        for event in events
    ]
    if rows:
        await session.execute(sa.insert(OUTBOX), rows)


async def claim_event(session: AsyncSession, consumer: str, event_id: str) -> bool:
    """Records that ``consumer`` handles ``event_id``; False when it already did.

    Called inside the handler's transaction, so the record and the handler's effects commit
    together: a redelivered event finds its record and changes nothing.
    """
    stmt = (
        pg_insert(INBOX)
        .values(consumer=consumer, event_id=event_id)
        .on_conflict_do_nothing()
        .returning(INBOX.c.event_id)
    )
    result = await session.execute(stmt)
    return result.first() is not None
