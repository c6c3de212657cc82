"""Parked outbox rows: the ones the broker refused for good, set aside by the relay.

Operators list them and republish them (after fixing the cause: a larger ``max.message.bytes``
on the topic, the missing topic created, ...). Republishing puts a row back into the pending
state; the relay, woken by a NOTIFY, tries it again and parks it again if it is still refused.

States of an outbox row (``mesh.messaging.tables``):
  pending   ``published_at IS NULL AND parked_at IS NULL``
  parked    ``parked_at IS NOT NULL AND published_at IS NULL``
  published ``published_at IS NOT NULL``
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from mesh.messaging.outbox import OUTBOX
from mesh.messaging.tables import OUTBOX_CHANNEL

Database = AsyncEngine | AsyncConnection | AsyncSession
T = TypeVar("T")

# Most rows one call lists; callers page with ``after_id``.
MAX_LIST_LIMIT = 1000


@dataclass(frozen=True)
class ParkedEvent:
    """One parked outbox row. ``payload`` is empty when listed ``with_payload=False``."""

    id: int
    event_id: str
    topic: str
    message_key: str
    event_type: str
    headers: dict[str, str]
    created_at: datetime
    parked_at: datetime
    park_error: str
    payload_size: int
    payload: bytes


async def list_parked(
    db: Database, limit: int = 100, after_id: int = 0, *, with_payload: bool = True
) -> list[ParkedEvent]:
    """Parked rows with ``id > after_id``, oldest first, at most ``limit`` (capped at 1000).

    A parked row may be large (that is often why it was parked): list ``with_payload=False``
    to get only its size.
    """
    limit = max(0, min(limit, MAX_LIST_LIMIT))
    if limit == 0:
        return []
    columns = [
        OUTBOX.c.id,
        OUTBOX.c.event_id,
        OUTBOX.c.topic,
        OUTBOX.c.message_key,
        OUTBOX.c.event_type,
        OUTBOX.c.headers,
        OUTBOX.c.created_at,
        OUTBOX.c.parked_at,
        OUTBOX.c.park_error,
        sa.func.octet_length(OUTBOX.c.payload).label("payload_size"),
        (OUTBOX.c.payload if with_payload else sa.literal(b"", sa.LargeBinary)).label("payload"),
    ]
    query = (
        sa.select(*columns)
        .where(OUTBOX.c.parked_at.is_not(None), OUTBOX.c.published_at.is_(None), OUTBOX.c.id > after_id)
        .order_by(OUTBOX.c.id)
        .limit(limit)
    )

    async def read(conn: AsyncConnection | AsyncSession) -> list[ParkedEvent]:
        return [_parked(row) for row in (await conn.execute(query)).mappings()]

    return await _run(db, read)


async def republish(db: Database, ids: Sequence[int]) -> int:
    """Puts the given parked rows back to pending; returns how many were parked (and now are not).

    Ids that are not parked (unknown, pending, already published) are ignored. The relay is
    woken at commit. With a connection or session already in a transaction, the caller commits.
    """
    return len(await republish_ids(db, ids))


async def republish_ids(db: Database, ids: Sequence[int]) -> list[int]:
    """``republish``, answering which of ``ids`` were parked and are now pending, in id order.

    The UPDATE decides and reports in one statement (its row locks make a concurrent republish
    of the same rows report each row once).
    """
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return []
    update = (
        sa.update(OUTBOX)
        .where(OUTBOX.c.id.in_(wanted), OUTBOX.c.parked_at.is_not(None), OUTBOX.c.published_at.is_(None))
        .values(parked_at=None, park_error=None)
        .returning(OUTBOX.c.id)
    )

    async def write(conn: AsyncConnection | AsyncSession) -> list[int]:
        changed = sorted(int(i) for i in (await conn.execute(update)).scalars())
        if changed:
            # Delivered at commit, like the insert trigger's: the relay does not wait for its poll.
            await conn.execute(sa.select(sa.func.pg_notify(OUTBOX_CHANNEL, "")))
        return changed

    return await _run(db, write)


async def _run(db: Database, work: Callable[[AsyncConnection | AsyncSession], Awaitable[T]]) -> T:
    """Runs ``work`` in a transaction of its own, or in the caller's when one is open."""
    if isinstance(db, AsyncEngine):
        async with db.begin() as conn:
            return await work(conn)
    if db.in_transaction():
        return await work(db)
    async with db.begin():
        return await work(db)


def _parked(row: Any) -> ParkedEvent:
    headers = row["headers"] if isinstance(row["headers"], dict) else {}
    return ParkedEvent(
        id=row["id"],
        event_id=row["event_id"],
        topic=row["topic"],
        message_key=row["message_key"],
        event_type=row["event_type"],
        headers={str(k): v for k, v in headers.items() if isinstance(v, str)},
        created_at=row["created_at"],
        parked_at=row["parked_at"],
        park_error=row["park_error"] or "",
        payload_size=int(row["payload_size"] or 0),
        payload=bytes(row["payload"] or b""),
    )
