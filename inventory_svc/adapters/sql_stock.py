"""Stock levels in PostgreSQL: every change is a single conditional UPDATE.

Under READ COMMITTED, PostgreSQL re-evaluates an UPDATE's WHERE clause on the newest row
version after waiting for a concurrent writer, so ``quantity - reserved >= n`` holds at the
moment of the write, whatever runs concurrently: no read-then-write that a concurrent reservation
could slip between, and no explicit row lock held across round trips. The CHECK constraints back it up.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from inventory_svc.adapters.tables import products, stock
from inventory_svc.domain.model import MAX_STOCK, StockLevel

_RETURNING = (stock.c.product_id, stock.c.quantity, stock.c.reserved, stock.c.version, stock.c.updated_at)


def level_from_row(row: Any) -> StockLevel:
    return StockLevel(row.product_id, row.quantity, row.reserved, row.version, row.updated_at)


class SqlStockRepository:
    """Implements service_layer.ports.StockRepository."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, product_id: str) -> StockLevel | None:
        row = (await self._session.execute(sa.select(*_RETURNING).where(stock.c.product_id == product_id))).first()
        return level_from_row(row) if row else None

    async def lock(self, product_id: str) -> StockLevel | None:
        stmt = sa.select(*_RETURNING).where(stock.c.product_id == product_id).with_for_update()
        row = (await self._session.execute(stmt)).first()
        return level_from_row(row) if row else None

    async def availability(self, product_ids: Sequence[str]) -> dict[str, int]:
        if not product_ids:
            return {}
        available = sa.case((products.c.active, stock.c.quantity - stock.c.reserved), else_=0)
        stmt = (
            sa.select(products.c.product_id, sa.func.coalesce(available, 0))
            .select_from(products.outerjoin(stock))
            .where(products.c.product_id.in_(list(product_ids)))
        )
        return {product_id: int(units) for product_id, units in await self._session.execute(stmt)}

    async def try_reserve(self, product_id: str, quantity: int) -> StockLevel | None:
        return await self._change(
            product_id,
            {"reserved": stock.c.reserved + quantity},
            stock.c.quantity - stock.c.reserved >= quantity,
            # Inactive products cannot be ordered, whatever their stock.
            sa.exists().where(products.c.product_id == stock.c.product_id, products.c.active),
        )

    async def release(self, product_id: str, quantity: int) -> StockLevel | None:
        return await self._change(product_id, {"reserved": stock.c.reserved - quantity}, stock.c.reserved >= quantity)

    async def ship(self, product_id: str, quantity: int) -> StockLevel | None:
        return await self._change(
            product_id,
            {"quantity": stock.c.quantity - quantity, "reserved": stock.c.reserved - quantity},
            stock.c.reserved >= quantity,
        )

    async def add(self, product_id: str, quantity: int) -> StockLevel | None:
        # Written as a bound on the old value, so the comparison itself cannot overflow.
        return await self._change(
            product_id, {"quantity": stock.c.quantity + quantity}, stock.c.quantity <= MAX_STOCK - quantity
        )

    async def audit(self, product_id: str, counted: int, expected_version: int) -> StockLevel | None:
        return await self._change(
            product_id, {"quantity": counted}, stock.c.version == expected_version, stock.c.reserved <= counted
        )

    async def _change(self, product_id: str, values: dict[str, Any], *conditions: Any) -> StockLevel | None:
        stmt = (
            sa.update(stock)
            .where(stock.c.product_id == product_id, *conditions)
            .values(**values, version=stock.c.version + 1, updated_at=sa.func.now())
            .returning(*_RETURNING)
        )
        row = (await self._session.execute(stmt)).first()
        return level_from_row(row) if row else None
