"""The SQL repositories (service_layer.ports' repository Protocols), bound to one transaction's session.

``SqlUnitOfWork`` makes one of each per transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from order_svc.adapters import tables as t
from order_svc.domain.customer import Customer
from order_svc.domain.model import Order, OrderLine, Shortfall
from order_svc.domain.placement import CatalogEntry
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.ports import OrderPageKey


class SqlOrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # The orders stored in this transaction, in the order they were stored: the unit of
        # work collects their recorded events at commit.
        self.seen: list[Order] = []

    def _stored(self, order: Order) -> None:
        if not any(known is order for known in self.seen):
            self.seen.append(order)

    async def add(self, order: Order) -> None:
        self._stored(order)
        stamps = await self._session.execute(
            sa.insert(t.orders)
            .values(
                order_id=order.order_id,
                customer_id=order.customer_id,
                status=order.status.value,
                status_reason=order.status_reason,
                currency=order.currency,
                total_minor=order.total_minor,
                version=order.version,
            )
            .returning(t.orders.c.created_at, t.orders.c.updated_at)
        )
        order.created_at, order.updated_at = stamps.one()
        await self._session.execute(
            sa.insert(t.order_items),
            [
                {
                    "order_id": order.order_id,
                    "line_no": index,
                    "product_id": line.product_id,
                    "product_name": line.product_name,
                    "quantity": line.quantity,
                    "unit_price_minor": line.unit_price_minor,
                }
                for index, line in enumerate(order.lines)
            ],
        )

    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        query = sa.select(t.orders).where(t.orders.c.order_id == order_id)
        if for_update:
            # Serializes transitions of one order; other orders are untouched.
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        return (await self._hydrate([row]))[0]

    async def save_transition(self, order: Order) -> None:
        self._stored(order)
        confirmed_at = sa.func.now() if order.status is OrderStatus.CONFIRMED else t.orders.c.confirmed_at
        result = await self._session.execute(
            sa.update(t.orders)
            .where(t.orders.c.order_id == order.order_id)
            .values(
                status=order.status.value,
                status_reason=order.status_reason,
                shortfalls=[s.__dict__ for s in order.shortfalls],
                version=order.version,
                updated_at=sa.func.now(),
                confirmed_at=confirmed_at,
            )
            .returning(t.orders.c.updated_at)
        )
        order.updated_at = result.scalar_one()

    async def find_page(
        self, *, limit: int, after: OrderPageKey | None, customer_id: str, status: OrderStatus | None
    ) -> list[Order]:
        query = sa.select(t.orders).order_by(t.orders.c.created_at.desc(), t.orders.c.order_id.desc()).limit(limit)
        if after is not None:
            query = query.where(
                sa.tuple_(t.orders.c.created_at, t.orders.c.order_id) < (after.created_at, after.order_id)
            )
        if customer_id:
            query = query.where(t.orders.c.customer_id == customer_id)
        if status is not None:
            query = query.where(t.orders.c.status == status.value)
        rows = (await self._session.execute(query)).mappings().all()
        return await self._hydrate(rows)

    async def confirmed_before(self, cutoff: datetime, *, limit: int) -> list[str]:
        """Ids of orders confirmed before ``cutoff`` and still unpaid, locked for this transaction.

        SKIP LOCKED lets several sweepers run at once without cancelling one order twice.
        """
        query = (
            sa.select(t.orders.c.order_id)
            .where(t.orders.c.status == OrderStatus.CONFIRMED.value, t.orders.c.confirmed_at < cutoff)
            .order_by(t.orders.c.confirmed_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list((await self._session.execute(query)).scalars())

    async def oldest_pending(self, *, limit: int) -> list[tuple[str, datetime]]:
        """(order_id, created_at) of the oldest PENDING orders, oldest first."""
        query = (
            sa.select(t.orders.c.order_id, t.orders.c.created_at)
            .where(t.orders.c.status == OrderStatus.PENDING.value)
            .order_by(t.orders.c.created_at, t.orders.c.order_id)
            .limit(limit)
        )
        return [(row.order_id, row.created_at) for row in await self._session.execute(query)]

    async def claim_incidents(self, order_ids: Sequence[str]) -> list[str]:
        """Inserts a row per order; the replica whose insert lands reports it.

        A replica inserting the same order at the same moment waits on the key until the first
        commits, then inserts nothing: each order is claimed once.
        """
        incidents = t.pending_incidents
        still_pending = sa.exists().where(
            t.orders.c.order_id == incidents.c.order_id, t.orders.c.status == OrderStatus.PENDING.value
        )
        await self._session.execute(sa.delete(incidents).where(~still_pending))
        if not order_ids:
            return []
        claimed = await self._session.execute(
            pg_insert(incidents)
            .values([{"order_id": order_id, "reported_at": sa.func.now()} for order_id in order_ids])
            .on_conflict_do_nothing()
            .returning(incidents.c.order_id)
        )
        return list(claimed.scalars())

    async def _hydrate(self, rows: Sequence[Any]) -> list[Order]:
        ids = [row["order_id"] for row in rows]
        lines: dict[str, list[OrderLine]] = {order_id: [] for order_id in ids}
        if ids:
            items = await self._session.execute(
                sa.select(t.order_items).where(t.order_items.c.order_id.in_(ids)).order_by(t.order_items.c.line_no)
            )
            for item in items.mappings():
                lines[item["order_id"]].append(
                    OrderLine(item["product_id"], item["quantity"], item["product_name"], item["unit_price_minor"])
                )
        return [
            Order(
                order_id=row["order_id"],
                customer_id=row["customer_id"],
                currency=row["currency"],
                lines=lines[row["order_id"]],
                status=OrderStatus(row["status"]),
                status_reason=row["status_reason"],
                shortfalls=[Shortfall(**s) for s in row["shortfalls"] or []],
                created_at=row["created_at"],
                updated_at=row["updated_at"],
                version=row["version"],
            )
            for row in rows
        ]


class SqlCustomerRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        # Customers read or written in this transaction: the events of an order carry its
        # customer's contact, so the unit of work asks again at commit; this saves the query.
        self._known: dict[str, Customer] = {}

    def _remember(self, customer: Customer | None) -> Customer | None:
        if customer is not None:
            self._known[customer.customer_id] = customer
        return customer

    async def add(self, customer: Customer) -> Customer | None:
        """Inserts; None when the id is taken."""
        row = (
            (
                await self._session.execute(
                    pg_insert(t.customers)
                    .values(
                        customer_id=customer.customer_id, name=customer.name, email=customer.email, phone=customer.phone
                    )
                    .on_conflict_do_nothing()
                    .returning(t.customers)
                )
            )
            .mappings()
            .first()
        )
        return self._remember(Customer(**row) if row else None)

    async def get(self, customer_id: str) -> Customer | None:
        if customer_id in self._known:
            return self._known[customer_id]
        row = (
            (await self._session.execute(sa.select(t.customers).where(t.customers.c.customer_id == customer_id)))
            .mappings()
            .first()
        )
        return self._remember(Customer(**row) if row else None)

    async def update(self, customer_id: str, changes: dict[str, str]) -> Customer | None:
        row = (
            (
                await self._session.execute(
                    sa.update(t.customers)
                    .where(t.customers.c.customer_id == customer_id)
                    .values(**changes, updated_at=sa.func.now())
                    .returning(t.customers)
                )
            )
            .mappings()
            .first()
        )
        return self._remember(Customer(**row) if row else None)

    async def find_page(self, *, limit: int, after: str) -> list[Customer]:
        query = sa.select(t.customers).order_by(t.customers.c.customer_id).limit(limit)
        if after:
            query = query.where(t.customers.c.customer_id > after)
        return [Customer(**row) for row in (await self._session.execute(query)).mappings()]


class SqlCatalogRepository:
    """The order service's replica of the catalog entries it has priced orders with."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_many(self, product_ids: Sequence[str]) -> dict[str, CatalogEntry]:
        rows = await self._session.execute(sa.select(t.catalog).where(t.catalog.c.product_id.in_(list(product_ids))))
        return {
            row["product_id"]: CatalogEntry(
                row["product_id"], row["name"], row["price_minor"], row["currency"], row["active"]
            )
            for row in rows.mappings()
        }

    async def upsert(self, entries: Sequence[CatalogEntry]) -> None:
        if not entries:
            return
        stmt = pg_insert(t.catalog).values([{**e.__dict__, "fetched_at": sa.func.now()} for e in entries])
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.catalog.c.product_id],
            set_={c: stmt.excluded[c] for c in ("name", "price_minor", "currency", "active", "fetched_at")},
        )
        await self._session.execute(stmt)


class SqlIdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, principal: str, key: str, request_hash: str, order_id: str) -> tuple[str, str] | None:
        """Claims ``key`` for ``order_id``; returns (hash, order_id) of an earlier claim instead.

        A concurrent request with the same key waits on the unique index until the first
        commits, then sees its row: two requests never create two orders.
        """
        inserted = await self._session.execute(
            pg_insert(t.idempotency_keys)
            .values(principal=principal, key=key, request_hash=request_hash, order_id=order_id)
            .on_conflict_do_nothing()
            .returning(t.idempotency_keys.c.key)
        )
        if inserted.first() is not None:
            return None
        earlier = await self.find(principal, key)
        assert earlier is not None, "a conflicting key row exists once the insert did nothing"
        return earlier

    async def find(self, principal: str, key: str) -> tuple[str, str] | None:
        """(request hash, order id) recorded for ``key``, if any."""
        row = (
            await self._session.execute(
                sa.select(t.idempotency_keys.c.request_hash, t.idempotency_keys.c.order_id).where(
                    t.idempotency_keys.c.principal == principal, t.idempotency_keys.c.key == key
                )
            )
        ).first()
        return None if row is None else (row[0], row[1])
