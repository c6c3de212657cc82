"""The payment repository on PostgreSQL (SQLAlchemy Core over the unit of work's session)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment_svc.adapters.tables import payments as T
from payment_svc.domain.model import STEPS, OrderFacts, Payment, PaymentStatus
from payment_svc.service_layer.ports import ListQuery


class SqlPaymentRepository:
    """Implements service_layer.ports.PaymentRepository."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, order_id: str, *, for_update: bool = False) -> Payment | None:
        stmt = sa.select(T).where(T.c.order_id == order_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._session.execute(stmt)).mappings().first()
        return _from_row(row) if row else None

    async def add(self, payment: Payment) -> bool:
        now = datetime.now(UTC)
        payment.created_at = payment.created_at or now
        payment.updated_at = now
        stmt = pg_insert(T).values(_to_row(payment)).on_conflict_do_nothing().returning(T.c.order_id)
        return (await self._session.execute(stmt)).first() is not None

    async def save(self, payment: Payment) -> None:
        payment.updated_at = datetime.now(UTC)
        row = _to_row(payment)
        row.pop("order_id"), row.pop("created_at")
        await self._session.execute(sa.update(T).where(T.c.order_id == payment.order_id).values(row))

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[str]:
        due = (
            sa.select(T.c.order_id)
            .where(T.c.status.in_([s.value for s in STEPS]), sa.or_(T.c.next_try_at.is_(None), T.c.next_try_at <= now))
            .order_by(T.c.next_try_at.nulls_first())
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        stmt = (
            sa.update(T)
            .where(T.c.order_id.in_(sa.select(due.c.order_id)))
            .values(next_try_at=now + lease)
            .returning(T.c.order_id)
        )
        return list((await self._session.execute(stmt)).scalars())

    async def list(self, query: ListQuery) -> list[Payment]:
        stmt = sa.select(T)
        if query.customer_id:
            stmt = stmt.where(T.c.customer_id == query.customer_id)
        if query.status is not None:
            stmt = stmt.where(T.c.status == query.status.value)
        if query.after is not None:
            stmt = stmt.where(sa.tuple_(T.c.created_at, T.c.order_id) < (query.after.created_at, query.after.order_id))
        stmt = stmt.order_by(T.c.created_at.desc(), T.c.order_id.desc()).limit(query.limit)
        return [_from_row(row) for row in (await self._session.execute(stmt)).mappings()]


def _to_row(p: Payment) -> dict[str, Any]:
    facts = p.order
    return {
        "order_id": p.order_id,
        "status": p.status.value,
        "customer_id": facts.customer_id if facts else "",
        "amount_minor": facts.amount_minor if facts else None,
        "currency": facts.currency if facts else None,
        "payment_method": facts.payment_method if facts else None,
        "order_problem": facts.problem if facts else None,
        "reserved": p.reserved,
        "cancel_wanted": p.cancel_wanted,
        "ship_wanted": p.ship_wanted,
        "attempt": p.attempt,
        "provider": p.provider,
        "provider_ref": p.provider_ref,
        "decline_code": p.decline_code,
        "reason": p.reason,
        "captured": p.captured,
        "tries": p.tries,
        "next_try_at": p.next_try_at,
        "last_error": p.last_error,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def _from_row(row: Any) -> Payment:
    facts = None
    if row["amount_minor"] is not None:
        facts = OrderFacts(
            row["customer_id"],
            row["amount_minor"],
            row["currency"],
            row["payment_method"] or "",
            row["order_problem"] or "",
        )
    return Payment(
        order_id=row["order_id"],
        status=PaymentStatus(row["status"]),
        order=facts,
        reserved=row["reserved"],
        cancel_wanted=row["cancel_wanted"],
        ship_wanted=row["ship_wanted"],
        attempt=row["attempt"],
        provider=row["provider"],
        provider_ref=row["provider_ref"],
        decline_code=row["decline_code"],
        reason=row["reason"],
        captured=row["captured"],
        tries=row["tries"],
        next_try_at=row["next_try_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
