"""Reservations (and refusals) of orders in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from inventory_svc.adapters.tables import reservation_failures, reservation_items, reservations
from inventory_svc.domain.model import Line, Reservation, ReservationStatus, Shortfall


class SqlReservationRepository:
    """Implements service_layer.ports.ReservationRepository."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_for_update(self, order_id: str) -> Reservation | None:
        head = (
            await self._session.execute(
                sa.select(reservations.c.status).where(reservations.c.order_id == order_id).with_for_update()
            )
        ).first()
        if head is None:
            return None
        items = await self._session.execute(
            sa.select(reservation_items.c.product_id, reservation_items.c.quantity)
            .where(reservation_items.c.order_id == order_id)
            .order_by(reservation_items.c.product_id)
        )
        lines = [Line(product_id, quantity) for product_id, quantity in items]
        return Reservation(order_id, lines, ReservationStatus(head.status))

    async def add(self, reservation: Reservation) -> None:
        await self._session.execute(
            sa.insert(reservations).values(order_id=reservation.order_id, status=reservation.status.value)
        )
        if not reservation.lines:
            return  # a tombstone: the order was released before anything was reserved for it
        await self._session.execute(
            sa.insert(reservation_items),
            [
                {"order_id": reservation.order_id, "product_id": line.product_id, "quantity": line.quantity}
                for line in reservation.lines
            ],
        )

    async def save_status(self, reservation: Reservation) -> None:
        await self._session.execute(
            sa.update(reservations)
            .where(reservations.c.order_id == reservation.order_id)
            .values(status=reservation.status.value, updated_at=sa.func.now())
        )

    async def outcome_recorded(self, order_id: str) -> bool:
        reserved = sa.exists().where(reservations.c.order_id == order_id)
        refused = sa.exists().where(reservation_failures.c.order_id == order_id)
        return bool(await self._session.scalar(sa.select(sa.or_(reserved, refused))))

    async def add_failure(self, order_id: str, reason: str, shortfalls: Sequence[Shortfall]) -> None:
        detail = [{"product_id": s.product_id, "requested": s.requested, "available": s.available} for s in shortfalls]
        await self._session.execute(
            pg_insert(reservation_failures)
            .values(order_id=order_id, reason=reason, shortfalls=detail)
            .on_conflict_do_nothing()
        )

    async def holds(self, product_id: str) -> bool:
        stmt = sa.select(
            sa.exists()
            .where(reservation_items.c.product_id == product_id)
            .where(reservation_items.c.order_id == reservations.c.order_id)
            .where(reservations.c.status == ReservationStatus.RESERVED.value)
        )
        return bool(await self._session.scalar(stmt))
