"""What the use cases need from the outside world: Protocols the adapters implement and tests fake.

Only abstractions and the small values they exchange live here; the SQL, Redis, gRPC and
Prometheus implementations are in ``order_svc.adapters`` and are chosen by ``order_svc.bootstrap``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from order_svc.domain.customer import Customer
from order_svc.domain.events import DomainEvent
from order_svc.domain.model import Order
from order_svc.domain.placement import CatalogEntry
from order_svc.domain.status import OrderStatus


@dataclass(frozen=True)
class OrderPageKey:
    """Keyset position in the newest-first order listing."""

    created_at: datetime
    order_id: str


class OrderRepository(Protocol):
    async def add(self, order: Order) -> None:
        """Stores a new order (sets its created_at/updated_at); its events are published at commit."""
        ...

    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        """``for_update`` serializes transitions of one order until the transaction ends."""
        ...

    async def save_transition(self, order: Order) -> None:
        """Stores the order's new status (sets updated_at); its events are published at commit."""
        ...

    async def find_page(
        self, *, limit: int, after: OrderPageKey | None, customer_id: str, status: OrderStatus | None
    ) -> list[Order]: ...

    async def confirmed_before(self, cutoff: datetime, *, limit: int) -> list[str]:
        """Ids of orders CONFIRMED before ``cutoff``, locked for this transaction; several
        sweepers running at once each get different ones."""
        ...

    async def oldest_pending(self, *, limit: int) -> list[tuple[str, datetime]]:
        """(order_id, created_at) of the oldest PENDING orders, oldest first."""
        ...

    async def claim_incidents(self, order_ids: Sequence[str]) -> list[str]:
        """Records ``order_ids`` as reported overdue; returns those no one had reported before.

        The claim is shared by every replica (and survives restarts): each order is reported
        once. Orders that have left PENDING are forgotten, so what is kept stays small.
        """
        ...


class CustomerRepository(Protocol):
    async def add(self, customer: Customer) -> Customer | None:
        """The stored customer (with its timestamps); None when the id is taken."""
        ...

    async def get(self, customer_id: str) -> Customer | None: ...

    async def update(self, customer_id: str, changes: dict[str, str]) -> Customer | None:
        """The customer after the change; None when there is no such customer."""
        ...

    async def find_page(self, *, limit: int, after: str) -> list[Customer]:
        """Customers by id, those after ``after`` ("" = from the start)."""
        ...


class CatalogRepository(Protocol):
    """The order service's replica of the catalog entries it has priced orders with."""

    async def get_many(self, product_ids: Sequence[str]) -> dict[str, CatalogEntry]: ...

    async def upsert(self, entries: Sequence[CatalogEntry]) -> None: ...


class IdempotencyRepository(Protocol):
    async def claim(self, principal: str, key: str, request_hash: str, order_id: str) -> tuple[str, str] | None:
        """Claims ``key`` for ``order_id``; returns (hash, order_id) of an earlier claim instead.

        A concurrent request with the same key waits until the first commits, then sees its
        claim: two requests never create two orders.
        """
        ...

    async def find(self, principal: str, key: str) -> tuple[str, str] | None:
        """(request hash, order id) recorded for ``key``, if any."""
        ...


class UnitOfWork(Protocol):
    """One transaction: ``async with`` it, change things, ``commit()``; leaving without a commit
    rolls everything back (state, events and inbox claim alike)."""

    @property
    def orders(self) -> OrderRepository: ...

    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def catalog(self) -> CatalogRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def publish(self, *events: DomainEvent) -> None:
        """Events that no stored order records; they are written in the same transaction.

        The events of the orders added or saved through ``orders`` are collected at commit.
        """
        ...

    async def claim(self, event_id: str) -> bool:
        """Records a consumed event in the inbox; False when it was applied before (a redelivery)."""
        ...

    def after_commit(self, callback: Callable[[], Awaitable[object]]) -> None:
        """Runs ``callback`` once the commit succeeded (cache eviction, counters)."""
        ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class Inventory(Protocol):
    """Inventory as the order service sees it; None means "did not answer in time"."""

    async def available(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, int] | None: ...

    async def products(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, CatalogEntry] | None: ...


class PriceBook(Protocol):
    """Recently fetched catalog entries, so not every order costs a call to inventory."""

    def lookup(self, product_ids: Sequence[str]) -> tuple[dict[str, CatalogEntry], list[str]]:
        """(fresh entries, ids that are missing or too old)."""
        ...

    def remember(self, entries: Iterable[CatalogEntry]) -> None: ...


OrderLoader = Callable[[], Awaitable[Order | None]]


class OrderCache(Protocol):
    """Read-through cache of orders; never the source of truth, never raises."""

    async def read_through(self, order_id: str, load: OrderLoader) -> Order | None:
        """The cached order, or ``load()``'s result (then cached)."""
        ...

    async def evict(self, order_id: str) -> None:
        """Called after a change committed: no later read may return the old order."""
        ...


class ChangeSignals(Protocol):
    """Sets the yielded event whenever the order may have changed (``adapters.watch_hub.WatchHub``)."""

    def subscribe(self, order_id: str) -> AbstractAsyncContextManager[asyncio.Event]: ...


class Metrics(Protocol):
    """The business metrics the use cases report."""

    def order_placed(self) -> None: ...

    def order_moved(self, status: OrderStatus) -> None:
        """A committed change of an order's status to ``status``."""
        ...

    def oldest_pending_age(self, seconds: float) -> None:
        """Age of the oldest order still PENDING (0 when there is none)."""
        ...

    def pending_incident(self) -> None:
        """An order found PENDING past its deadline (once per order)."""
        ...


@dataclass(frozen=True)
class Caller:
    """Who is asking: a customer (their own orders only) or an admin."""

    principal_id: str
    is_admin: bool
    # Forwarded on calls to other services so they can check the same token.
    metadata: tuple[tuple[str, str], ...] = ()

    def may_act_for(self, customer_id: str) -> bool:
        return self.is_admin or self.principal_id == customer_id


@dataclass(frozen=True)
class Dependencies:
    """Every port the handlers use, built once by ``order_svc.bootstrap.build_dependencies``."""

    uow: UnitOfWorkFactory
    inventory: Inventory
    cache: OrderCache
    price_book: PriceBook
    metrics: Metrics
    # Ask inventory before accepting an order, to refuse clearly short ones at once.
    stock_precheck: bool = True
