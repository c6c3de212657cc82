"""The product catalog in PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from inventory_svc.adapters.tables import products, stock
from inventory_svc.domain.model import Money, PriceChange, Product, ProductChanges
from inventory_svc.domain.paging import ProductQuery

_AVAILABLE = sa.func.coalesce(stock.c.quantity - stock.c.reserved, 0).label("available")
_SELECT = sa.select(products, _AVAILABLE).select_from(products.outerjoin(stock))


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def product_from_row(row: Any) -> Product:
    return Product(
        product_id=row.product_id,
        name=row.name,
        description=row.description,
        price=Money(row.currency, row.price_minor),
        active=row.active,
        available=row.available,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlProductRepository:
    """Implements service_layer.ports.ProductRepository."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, product_id: str) -> Product | None:
        row = (await self._session.execute(_SELECT.where(products.c.product_id == product_id))).first()
        return product_from_row(row) if row else None

    async def get_many(self, product_ids: Sequence[str]) -> list[Product]:
        # One array parameter (`= ANY($1)`): the statement is the same for 1 or 100 ids.
        ids = sa.bindparam("product_ids", list(product_ids), type_=ARRAY(sa.Text))
        rows = await self._session.execute(_SELECT.where(products.c.product_id == sa.any_(ids)))
        return [product_from_row(row) for row in rows]

    async def add(self, product: Product) -> Product | None:
        inserted = await self._session.execute(
            pg_insert(products)
            .values(
                product_id=product.product_id,
                name=product.name,
                description=product.description,
                price_minor=product.price.minor,
                currency=product.price.currency,
                active=product.active,
            )
            .on_conflict_do_nothing()
            .returning(products.c.product_id)
        )
        if inserted.first() is None:
            return None
        await self._session.execute(
            sa.insert(stock).values(product_id=product.product_id, quantity=0, reserved=0, version=0)
        )
        return await self.get(product.product_id)

    async def update(self, product_id: str, changes: ProductChanges) -> Product | None:
        values: dict[str, Any] = {"updated_at": sa.func.now()}
        if changes.name is not None:
            values["name"] = changes.name
        if changes.description is not None:
            values["description"] = changes.description
        if changes.price is not None:
            values.update(_price_values(changes.price))
        if changes.active is not None:
            values["active"] = changes.active
        result = await self._session.execute(
            sa.update(products)
            .where(products.c.product_id == product_id)
            .values(**values)
            .returning(products.c.product_id)
        )
        if result.first() is None:
            return None
        return await self.get(product_id)

    async def delete(self, product_id: str) -> bool:
        # The stock row goes with it (ON DELETE CASCADE).
        result = await self._session.execute(
            sa.delete(products).where(products.c.product_id == product_id).returning(products.c.product_id)
        )
        return result.first() is not None

    async def list(self, query: ProductQuery, after: str | None, limit: int) -> list[Product]:
        stmt = _SELECT.order_by(products.c.product_id).limit(limit)
        if after is not None:
            stmt = stmt.where(products.c.product_id > after)
        if query.active is not None:
            stmt = stmt.where(products.c.active.is_(query.active))
        if query.name_contains:
            stmt = stmt.where(products.c.name.ilike(f"%{escape_like(query.name_contains)}%", escape="\\"))
        return [product_from_row(row) for row in await self._session.execute(stmt)]


def _price_values(change: PriceChange) -> dict[str, Any]:
    """Column values for a price change; a part alone is computed from the row in the same
    UPDATE (no read-then-write that a concurrent update could slip between)."""
    values: dict[str, Any] = {}
    if change.currency is not None:
        values["currency"] = change.currency
    minor = products.c.price_minor
    if change.units is not None and change.cents is not None:
        values["price_minor"] = change.units * 100 + change.cents
    elif change.units is not None:
        values["price_minor"] = change.units * 100 + minor % 100
    elif change.cents is not None:
        values["price_minor"] = minor - minor % 100 + change.cents
    return values
