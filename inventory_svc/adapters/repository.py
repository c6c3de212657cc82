"""The repository ports the service layer depends on (unit tests subclass them with fakes)."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from inventory_svc.domain.model import Product, ProductChanges, Reservation, Shortfall, StockLevel
from inventory_svc.domain.paging import ProductQuery


class ProductRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, product_id: str) -> Product | None: ...

    @abc.abstractmethod
    async def get_many(self, product_ids: Sequence[str]) -> list[Product]:
        """The products among ``product_ids`` that exist, in any order, in one query."""

    @abc.abstractmethod
    async def add(self, product: Product) -> Product | None:
        """Inserts the product with an empty stock row; None when the id is taken."""

    @abc.abstractmethod
    async def update(self, product_id: str, changes: ProductChanges) -> Product | None: ...

    @abc.abstractmethod
    async def delete(self, product_id: str) -> bool: ...

    @abc.abstractmethod
    async def list(self, query: ProductQuery, after: str | None, limit: int) -> list[Product]:
        """Up to ``limit`` products with product_id > ``after``, ordered by product_id."""


class StockRepository(abc.ABC):
    """Every change is one conditional statement: no read-then-write (DESIGN.md §9)."""

    @abc.abstractmethod
    async def get(self, product_id: str) -> StockLevel | None: ...

    @abc.abstractmethod
    async def lock(self, product_id: str) -> StockLevel | None:
        """Reads the row and holds its lock until the transaction ends."""

    @abc.abstractmethod
    async def availability(self, product_ids: Sequence[str]) -> dict[str, int]:
        """Available units of each known product (0 when inactive); unknown ids are absent."""

    @abc.abstractmethod
    async def try_reserve(self, product_id: str, quantity: int) -> StockLevel | None:
        """Reserves when an active product has enough available; None otherwise."""

    @abc.abstractmethod
    async def release(self, product_id: str, quantity: int) -> StockLevel | None: ...

    @abc.abstractmethod
    async def ship(self, product_id: str, quantity: int) -> StockLevel | None:
        """Reserved units leave the warehouse: quantity and reserved both drop."""

    @abc.abstractmethod
    async def add(self, product_id: str, quantity: int) -> StockLevel | None: ...

    @abc.abstractmethod
    async def audit(self, product_id: str, counted: int, expected_version: int) -> StockLevel | None:
        """Sets quantity when the version still matches and counted >= reserved; else None."""


class ReservationRepository(abc.ABC):
    @abc.abstractmethod
    async def get_for_update(self, order_id: str) -> Reservation | None: ...

    @abc.abstractmethod
    async def add(self, reservation: Reservation) -> None: ...

    @abc.abstractmethod
    async def save_status(self, reservation: Reservation) -> None: ...

    @abc.abstractmethod
    async def outcome_recorded(self, order_id: str) -> bool:
        """True when the order was already reserved or refused (a repeated OrderPlaced)."""

    @abc.abstractmethod
    async def add_failure(self, order_id: str, reason: str, shortfalls: Sequence[Shortfall]) -> None: ...

    @abc.abstractmethod
    async def holds(self, product_id: str) -> bool:
        """True while an open (RESERVED) reservation includes the product."""
