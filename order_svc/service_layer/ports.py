"""What the use cases need from the outside world, as abstractions the tests can fake."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mesh.messaging.kafka import Topics
from mesh.storage.unit_of_work import UnitOfWork
from order_svc.adapters.price_book import PriceBook
from order_svc.adapters.repository import (
    CatalogRepository,
    CustomerRepository,
    IdempotencyRepository,
    OrderRepository,
)
from order_svc.domain.model import Order
from order_svc.domain.placement import CatalogEntry


class OrderUnitOfWork(UnitOfWork):
    """A unit of work with the order service's repositories bound to its session."""

    @property
    def orders(self) -> OrderRepository:
        return OrderRepository(self.session)

    @property
    def customers(self) -> CustomerRepository:
        return CustomerRepository(self.session)

    @property
    def catalog(self) -> CatalogRepository:
        return CatalogRepository(self.session)

    @property
    def idempotency(self) -> IdempotencyRepository:
        return IdempotencyRepository(self.session)


class Inventory(Protocol):
    """Inventory as the order service sees it; None means "did not answer in time"."""

    async def available(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, int] | None: ...

    async def products(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, CatalogEntry] | None: ...


OrderLoader = Callable[[], Awaitable[Order | None]]


class OrderCache(Protocol):
    """Read-through cache of orders; never the source of truth, never raises."""

    async def read_through(self, order_id: str, load: OrderLoader) -> Order | None:
        """The cached order, or ``load()``'s result (then cached)."""
        ...

    async def evict(self, order_id: str) -> None:
        """Called after a change committed: no later read may return the old order."""
        ...


class NoOrderCache:
    async def read_through(self, order_id: str, load: OrderLoader) -> Order | None:
        return await load()

    async def evict(self, order_id: str) -> None:
        return None


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
class OrderDeps:
    uow: Callable[[], OrderUnitOfWork]
    topics: Topics
    inventory: Inventory
    cache: OrderCache
    stock_precheck: bool = True
    price_book: PriceBook = field(default_factory=PriceBook)
