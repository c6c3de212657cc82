"""What the inventory's use cases need from the outside world, as Protocols the adapters implement.

The handlers see only these (and the domain): the SQL repositories, the Redis catalog cache and
the Prometheus metrics are adapters; tests/unit/inventory/fakes.py implements the same ports in
memory.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from inventory_svc.domain.events import Event
from inventory_svc.domain.model import Product, ProductChanges, Reservation, Shortfall, StockLevel
from inventory_svc.domain.paging import ProductQuery
from mesh.storage.paging import PageTokens


class ProductRepository(Protocol):
    async def get(self, product_id: str) -> Product | None: ...

    async def get_many(self, product_ids: Sequence[str]) -> list[Product]:
        """The products among ``product_ids`` that exist, in any order, in one query."""
        ...

    async def add(self, product: Product) -> Product | None:
        """Inserts the product with an empty stock row; None when the id is taken."""
        ...

    async def update(self, product_id: str, changes: ProductChanges) -> Product | None: ...

    async def delete(self, product_id: str) -> bool: ...

    async def list(self, query: ProductQuery, after: str | None, limit: int) -> list[Product]:
        """Up to ``limit`` products with product_id > ``after``, ordered by product_id."""
        ...


class StockRepository(Protocol):
    """Every change is one conditional write that returns the new level, or None when its
    condition does not hold: no read-then-write a concurrent change could slip between."""

    async def get(self, product_id: str) -> StockLevel | None: ...

    async def lock(self, product_id: str) -> StockLevel | None:
        """Reads the row and holds its lock until the transaction ends."""
        ...

    async def availability(self, product_ids: Sequence[str]) -> dict[str, int]:
        """Available units of each known product (0 when inactive); unknown ids are absent."""
        ...

    async def try_reserve(self, product_id: str, quantity: int) -> StockLevel | None:
        """Reserves when an active product has enough available; None otherwise."""
        ...

    async def release(self, product_id: str, quantity: int) -> StockLevel | None: ...

    async def ship(self, product_id: str, quantity: int) -> StockLevel | None:
        """Reserved units leave the warehouse: quantity and reserved both drop."""
        ...

    async def add(self, product_id: str, quantity: int) -> StockLevel | None:
        """Receives units while the quantity stays within MAX_STOCK; None otherwise."""
        ...

    async def audit(self, product_id: str, counted: int, expected_version: int) -> StockLevel | None:
        """Sets quantity when the version still matches and counted >= reserved; else None."""
        ...


class ReservationRepository(Protocol):
    async def get_for_update(self, order_id: str) -> Reservation | None: ...

    async def add(self, reservation: Reservation) -> None: ...

    async def save_status(self, reservation: Reservation) -> None: ...

    async def outcome_recorded(self, order_id: str) -> bool:
        """True when the order was already reserved or refused (a repeated OrderPlaced)."""
        ...

    async def add_failure(self, order_id: str, reason: str, shortfalls: Sequence[Shortfall]) -> None: ...

    async def holds(self, product_id: str) -> bool:
        """True while an open (RESERVED) reservation includes the product."""
        ...


AfterCommit = Callable[[], Awaitable[object]]


class UnitOfWork(Protocol):
    """``async with uow:`` is one transaction; it rolls back unless ``commit()`` was awaited.

    One instance serves one handler call at a time (it may be entered again afterwards); the
    repositories are valid inside the block.
    """

    @property
    def products(self) -> ProductRepository: ...

    @property
    def stock(self) -> StockRepository: ...

    @property
    def reservations(self) -> ReservationRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def publish(self, *events: Event) -> None:
        """Stages domain events; they reach the outbox only if the transaction commits."""
        ...

    async def claim(self, event_id: str) -> bool:
        """Records the consumed event in the inbox; False when it was applied before."""
        ...

    def after_commit(self, callback: AfterCommit) -> None:
        """Runs ``callback`` once the transaction committed, before ``commit()`` returns."""
        ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class ProductPage:
    """One page of a product listing, as returned to the caller and as cached."""

    products: list[Product]
    next_page_token: str


@dataclass(frozen=True)
class Slot:
    """Where one cache entry lives; taken before the database read, so a value read while a
    change committed is stored where nobody looks any more (see adapters/catalog_cache.py)."""

    key: str


class CatalogCache(Protocol):
    """Read-through cache of products, stock levels and product pages. A slot of None means
    the cache is unavailable: read the database and store nothing."""

    async def product_slot(self, product_id: str) -> Slot | None: ...

    async def stock_slot(self, product_id: str) -> Slot | None: ...

    async def page_slot(self, query: ProductQuery, page_token: str, size: int) -> Slot | None: ...

    async def get_product(self, slot: Slot) -> Product | None: ...

    async def put_product(self, slot: Slot, product: Product) -> None: ...

    async def get_stock(self, slot: Slot) -> StockLevel | None: ...

    async def put_stock(self, slot: Slot, level: StockLevel) -> None: ...

    async def get_page(self, slot: Slot) -> ProductPage | None: ...

    async def put_page(self, slot: Slot, page: ProductPage) -> None: ...

    async def evict(self, product_ids: list[str]) -> None:
        """Everything showing these products (their entries and every page) becomes a miss."""
        ...


class Metrics(Protocol):
    """What the inventory counts about the order events it handles."""

    def reservation(self, outcome: str, seconds: float) -> None:
        """One OrderPlaced handled: its outcome and the time it took, transactions included."""
        ...

    def order_event(self, event: str, outcome: str) -> None:
        """One other order event (cancelled, shipped, unwanted) handled, by outcome."""
        ...


@dataclass(frozen=True)
class Dependencies:
    """Every port the use cases and entry points need; built once by bootstrap.build_dependencies."""

    uow: UnitOfWorkFactory
    catalog_cache: CatalogCache
    page_tokens: PageTokens
    metrics: Metrics
