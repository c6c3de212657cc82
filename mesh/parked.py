"""Parked outbox rows, as the operator's tools see them: listed, and handed back to the relay.

The relay parks a row the broker refuses for good (``parked_at`` and ``park_error`` set,
``published_at`` still NULL) and goes on with later rows. Republishing clears both columns in
one statement, so the relay publishes the row again on its next pass; only rows still parked
change, so a repeated or concurrent republish does nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.messaging_tables import OUTBOX_CHANNEL


@dataclass(frozen=True)
class ParkedRow:
    outbox_id: int
    event_id: str
    event_type: str
    topic: str
    key: str
    error: str
    parked_at: datetime | None
    created_at: datetime
    size_bytes: int


class ParkedEvents(Protocol):
    async def list_parked(self, *, after_id: int, limit: int) -> list[ParkedRow]:
        """Parked rows with an id above ``after_id``, oldest first."""

    async def republish(self, outbox_ids: Sequence[int]) -> list[int]:
        """Un-parks those of ``outbox_ids`` that are parked; returns them."""


_LIST = sa.text(
    """
    SELECT id, event_id, event_type, topic, message_key, park_error, parked_at, created_at,
           octet_length(payload) AS size_bytes
      FROM outbox
     WHERE parked_at IS NOT NULL AND published_at IS NULL AND id > :after
     ORDER BY id
     LIMIT :limit
    """
)
_REPUBLISH = sa.text(
    """
    UPDATE outbox SET parked_at = NULL, park_error = NULL
     WHERE id = ANY(:ids) AND parked_at IS NOT NULL AND published_at IS NULL
    RETURNING id
    """
)


class SqlParkedEvents:
    """Parked rows of one service's own database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list_parked(self, *, after_id: int, limit: int) -> list[ParkedRow]:
        async with self._engine.connect() as conn:
            result = await conn.execute(_LIST, {"after": after_id, "limit": limit})
            return [
                ParkedRow(
                    outbox_id=row.id,
                    event_id=row.event_id,
                    event_type=row.event_type,
                    topic=row.topic,
                    key=row.message_key,
                    error=row.park_error or "",
                    parked_at=row.parked_at,
                    created_at=row.created_at,
                    size_bytes=row.size_bytes,
                )
                for row in result
            ]

    async def republish(self, outbox_ids: Sequence[int]) -> list[int]:
        async with self._engine.begin() as conn:
            result = await conn.execute(_REPUBLISH, {"ids": list(outbox_ids)})
            republished = sorted(int(row.id) for row in result)
            if republished:
                # Wake the relays now rather than at their next idle poll (delivered at commit).
                await conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": OUTBOX_CHANNEL})
        return republished
