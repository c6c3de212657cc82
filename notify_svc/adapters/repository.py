"""The notification repository on PostgreSQL (SQLAlchemy Core over the unit of work's session)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.adapters.tables import notifications as T
from notify_svc.domain.model import Notification, RenderedMessage, Status
from notify_svc.service_layer.ports import ListQuery

# Everything a state change may touch; the rest of a row never changes after insert.
_MUTABLE = ("status", "attempts", "last_error", "next_attempt_at", "update_time", "sent_time")


class SqlNotificationRepository:
    def __init__(self, session: AsyncSession, *, trace_context: dict[str, str] | None = None) -> None:
        self._session = session
        # The trace a notification added here continues when it is sent (the unit of work's
        # caller: the event's consume span).
        self._trace_context = trace_context or {}

    async def add(self, notification: Notification) -> bool:
        # The trace of the event handling that records it (like an outbox row's): the delivery
        # continues it. Written once; a state change never touches it.
        if not notification.trace_context:
            notification.trace_context = dict(self._trace_context)
        # The inbox already makes an event count once; the unique key is the last line of defence.
        stmt = pg_insert(T).values(_to_row(notification)).on_conflict_do_nothing().returning(T.c.notification_id)
        return (await self._session.execute(stmt)).first() is not None

    async def get(self, notification_id: str, *, for_update: bool = False) -> Notification | None:
        stmt = sa.select(T).where(T.c.notification_id == notification_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return _from_row(row) if row else None

    async def claim_due(self, now: datetime, limit: int) -> list[Notification]:
        stmt = (
            sa.select(T)
            .where(T.c.status == Status.PENDING.value, T.c.next_attempt_at <= now)
            .order_by(T.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_from_row(row) for row in (await self._session.execute(stmt)).mappings()]

    async def save(self, notifications: Sequence[Notification]) -> None:
        if not notifications:
            return
        stmt = (
            sa.update(T)
            .where(T.c.notification_id == sa.bindparam("b_id"))
            .values({name: sa.bindparam(f"b_{name}") for name in _MUTABLE})
        )
        rows = []
        for notification in notifications:
            row = _to_row(notification)
            rows.append({"b_id": notification.notification_id, **{f"b_{name}": row[name] for name in _MUTABLE}})
        await self._session.execute(stmt, rows)

    async def list(self, query: ListQuery) -> list[Notification]:
        stmt = sa.select(T)
        if query.order_id:
            stmt = stmt.where(T.c.order_id == query.order_id)
        if query.customer_id:
            stmt = stmt.where(T.c.customer_id == query.customer_id)
        if query.status is not None:
            stmt = stmt.where(T.c.status == query.status.value)
        if query.after is not None:
            # Keyset paging: strictly after the last row of the previous page in (time, id) order.
            stmt = stmt.where(
                sa.tuple_(T.c.create_time, T.c.notification_id)
                < sa.tuple_(
                    sa.literal(query.after.create_time, T.c.create_time.type),
                    sa.literal(query.after.notification_id, T.c.notification_id.type),
                )
            )
        stmt = stmt.order_by(T.c.create_time.desc(), T.c.notification_id.desc()).limit(query.limit)
        return [_from_row(row) for row in (await self._session.execute(stmt)).mappings()]


def _to_row(n: Notification) -> dict[str, Any]:
    return {
        "notification_id": n.notification_id,
        "event_id": n.event_id,
        "event_type": n.event_type,
        "order_id": n.order_id,
        "customer_id": n.customer_id,
        "channel": n.channel,
        "recipient": n.recipient,
        "subject": n.message.subject,
        "body_text": n.message.body_text,
        "body_html": n.message.body_html,
        "status": n.status.value,
        "attempts": n.attempts,
        "last_error": n.last_error,
        "next_attempt_at": n.next_attempt_at,
        "create_time": n.create_time,
        "update_time": n.update_time,
        "sent_time": n.sent_time,
        "trace_context": n.trace_context,
    }


def _from_row(row: Any) -> Notification:
    return Notification(
        notification_id=str(row["notification_id"]),
        event_id=row["event_id"],
        event_type=row["event_type"],
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        channel=row["channel"],
        recipient=row["recipient"],
        message=RenderedMessage(row["subject"], row["body_text"], row["body_html"]),
        status=Status(row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        sent_time=row["sent_time"],
        trace_context=dict(row["trace_context"] or {}),
    )
