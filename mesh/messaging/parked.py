"""Parked outbox rows, as the operator's RPCs see them (over ``mesh.messaging.outbox_parking``).

The relay parks a row the broker refuses for good and goes on with later rows; republishing
puts it back to pending and wakes the relay. Only rows still parked change, so a repeated or
concurrent republish does nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncEngine

from mesh.messaging.outbox_parking import list_parked, republish_ids


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


class SqlParkedEvents:
    """Parked rows of one service's own database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def list_parked(self, *, after_id: int, limit: int) -> list[ParkedRow]:
        # Without payloads: a parked row is often a huge one, and the operator needs its size.
        rows = await list_parked(self._engine, limit=limit, after_id=after_id, with_payload=False)
        return [
            ParkedRow(
                outbox_id=row.id,
                event_id=row.event_id,
                event_type=row.event_type,
                topic=row.topic,
                key=row.message_key,
                error=row.park_error,
                parked_at=row.parked_at,
                created_at=row.created_at,
                size_bytes=row.payload_size,
            )
            for row in rows
        ]

    async def republish(self, outbox_ids: Sequence[int]) -> list[int]:
        return await republish_ids(self._engine, outbox_ids)
