"""Webhook endpoints and deliveries on PostgreSQL (SQLAlchemy Core over the unit of work's session)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from notify_svc.adapters.tables import webhook_deliveries as D
from notify_svc.adapters.tables import webhook_endpoints as E
from notify_svc.domain.webhooks import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from notify_svc.service_layer.ports import DeliveryQuery

# A fixed key of this database's advisory locks: registrations take it so the cap on endpoints holds.
_REGISTRATION_LOCK = 0x6F6D7357  # "omsW"
_MUTABLE = ("status", "attempts", "last_error", "last_http_status", "next_attempt_at", "update_time", "delivered_time")


class SqlWebhookEndpointRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, endpoint: WebhookEndpoint) -> None:
        await self._session.execute(sa.insert(E).values(_endpoint_row(endpoint)))

    async def get(self, endpoint_id: str, *, for_update: bool = False) -> WebhookEndpoint | None:
        stmt = sa.select(E).where(E.c.endpoint_id == endpoint_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return _endpoint(row) if row else None

    async def list(self, *, active_only: bool = False) -> list[WebhookEndpoint]:
        stmt = sa.select(E).order_by(E.c.create_time, E.c.endpoint_id)
        if active_only:
            stmt = stmt.where(E.c.disabled.is_(False))
        return [_endpoint(row) for row in (await self._session.execute(stmt)).mappings()]

    async def count(self, *, lock: bool = False) -> int:
        if lock:
            await self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(_REGISTRATION_LOCK)))
        return int((await self._session.execute(sa.select(sa.func.count()).select_from(E))).scalar_one())

    async def save(self, endpoint: WebhookEndpoint) -> None:
        await self._session.execute(
            sa.update(E)
            .where(E.c.endpoint_id == endpoint.endpoint_id)
            .values(disabled=endpoint.disabled, update_time=endpoint.update_time, description=endpoint.description)
        )

    async def delete(self, endpoint_id: str) -> bool:
        stmt = sa.delete(E).where(E.c.endpoint_id == endpoint_id).returning(E.c.endpoint_id)
        return (await self._session.execute(stmt)).first() is not None


class SqlWebhookDeliveryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, delivery: WebhookDelivery) -> bool:
        # The inbox already makes an event count once; the unique key is the last line of defence.
        stmt = pg_insert(D).values(_delivery_row(delivery)).on_conflict_do_nothing().returning(D.c.delivery_id)
        return (await self._session.execute(stmt)).first() is not None

    async def get(self, delivery_id: str, *, for_update: bool = False) -> WebhookDelivery | None:
        stmt = sa.select(D).where(D.c.delivery_id == delivery_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return _delivery(row) if row else None

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        stmt = (
            sa.select(D)
            .where(D.c.status == DeliveryStatus.PENDING.value, D.c.next_attempt_at <= now)
            .order_by(D.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_delivery(row) for row in (await self._session.execute(stmt)).mappings()]

    async def save(self, deliveries: Sequence[WebhookDelivery]) -> None:
        if not deliveries:
            return
        stmt = (
            sa.update(D)
            .where(D.c.delivery_id == sa.bindparam("b_id"))
            .values({name: sa.bindparam(f"b_{name}") for name in _MUTABLE})
        )
        rows = []
        for delivery in deliveries:
            row = _delivery_row(delivery)
            rows.append({"b_id": delivery.delivery_id, **{f"b_{name}": row[name] for name in _MUTABLE}})
        await self._session.execute(stmt, rows)

    async def list(self, query: DeliveryQuery) -> list[WebhookDelivery]:
        stmt = sa.select(D)
        if query.endpoint_id:
            stmt = stmt.where(D.c.endpoint_id == query.endpoint_id)
        if query.order_id:
            stmt = stmt.where(D.c.order_id == query.order_id)
        if query.status is not None:
            stmt = stmt.where(D.c.status == query.status.value)
        if query.after is not None:
            stmt = stmt.where(
                sa.tuple_(D.c.create_time, D.c.delivery_id)
                < sa.tuple_(
                    sa.literal(query.after.create_time, D.c.create_time.type),
                    sa.literal(query.after.delivery_id, D.c.delivery_id.type),
                )
            )
        stmt = stmt.order_by(D.c.create_time.desc(), D.c.delivery_id.desc()).limit(query.limit)
        return [_delivery(row) for row in (await self._session.execute(stmt)).mappings()]


def _endpoint_row(e: WebhookEndpoint) -> dict[str, Any]:
    return {
        "endpoint_id": e.endpoint_id,
        "url": e.url,
        "secret": e.secret,
        "description": e.description,
        "disabled": e.disabled,
        "create_time": e.create_time,
        "update_time": e.update_time,
    }


def _endpoint(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(
        endpoint_id=str(row["endpoint_id"]),
        url=row["url"],
        secret=row["secret"],
        description=row["description"],
        disabled=row["disabled"],
        create_time=row["create_time"],
        update_time=row["update_time"],
    )


def _delivery_row(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "delivery_id": d.delivery_id,
        "endpoint_id": d.endpoint_id,
        "event_id": d.event_id,
        "event_type": d.event_type,
        "order_id": d.order_id,
        "payload": d.payload,
        "status": d.status.value,
        "attempts": d.attempts,
        "last_error": d.last_error,
        "last_http_status": d.last_http_status,
        "next_attempt_at": d.next_attempt_at,
        "create_time": d.create_time,
        "update_time": d.update_time,
        "delivered_time": d.delivered_time,
    }


def _delivery(row: Any) -> WebhookDelivery:
    return WebhookDelivery(
        delivery_id=str(row["delivery_id"]),
        endpoint_id=str(row["endpoint_id"]),
        event_id=row["event_id"],
        event_type=row["event_type"],
        order_id=row["order_id"],
        payload=row["payload"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        last_http_status=row["last_http_status"],
        next_attempt_at=row["next_attempt_at"],
        create_time=row["create_time"],
        update_time=row["update_time"],
        delivered_time=row["delivered_time"],
    )
