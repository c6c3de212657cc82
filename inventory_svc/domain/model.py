"""Catalog and stock values, and the reservation of one order."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

# Most units of one product the warehouse can hold (quantity, hence reserved too). Every stock
# change stays within 0..MAX_STOCK, so no sum can come near the bigint columns' range; a CHECK
# constraint in the database (migration `stock_limits`) holds it too.
MAX_STOCK = 1_000_000_000


class DomainError(Exception):
    """A rule of the inventory was broken; the service layer maps it to an API error."""


class ReservationClosed(DomainError):
    """A reservation that was already released or shipped cannot change again."""


@dataclass(frozen=True)
class Money:
    """An amount in minor units (cents) of a three-letter currency."""

    currency: str
    minor: int

    @property
    def units(self) -> int:
        return self.minor // 100

    @property
    def nanos(self) -> int:
        return (self.minor % 100) * 10_000_000


@dataclass(frozen=True)
class PriceChange:
    """The parts of a price an update sets; None keeps that part (a new price sets all three).

    A field mask may name ``price.units`` alone: the currency and the cents stay as they are.
    """

    currency: str | None = None
    units: int | None = None
    cents: int | None = None

    def applied_to(self, current: Money) -> Money:
        units = current.units if self.units is None else self.units
        cents = current.minor % 100 if self.cents is None else self.cents
        return Money(current.currency if self.currency is None else self.currency, units * 100 + cents)


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    description: str
    price: Money
    active: bool
    available: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ProductChanges:
    """The fields an update sets; None means unchanged."""

    name: str | None = None
    description: str | None = None
    price: PriceChange | None = None
    active: bool | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in (self.name, self.description, self.price, self.active))


@dataclass(frozen=True)
class StockLevel:
    product_id: str
    quantity: int
    reserved: int
    version: int
    updated_at: datetime | None = None

    @property
    def available(self) -> int:
        return self.quantity - self.reserved


@dataclass(frozen=True)
class Line:
    """Units of one product an order asks for."""

    product_id: str
    quantity: int


@dataclass(frozen=True)
class Shortfall:
    product_id: str
    requested: int
    available: int


class ReservationStatus(enum.StrEnum):
    RESERVED = "RESERVED"
    RELEASED = "RELEASED"
    SHIPPED = "SHIPPED"


@dataclass
class Reservation:
    """Stock held for one order; it ends released (cancelled) or shipped."""

    order_id: str
    lines: list[Line]
    status: ReservationStatus = ReservationStatus.RESERVED

    def release(self) -> None:
        self._close(ReservationStatus.RELEASED)

    def ship(self) -> None:
        self._close(ReservationStatus.SHIPPED)

    @property
    def is_open(self) -> bool:
        return self.status is ReservationStatus.RESERVED

    def _close(self, status: ReservationStatus) -> None:
        if not self.is_open:
            raise ReservationClosed(f"reservation of order {self.order_id} is already {self.status.value}")
        self.status = status


def can_add(level: StockLevel, units: int) -> bool:
    """Receiving ``units`` more keeps the physical quantity within MAX_STOCK."""
    return level.quantity + units <= MAX_STOCK


def audit_allowed(level: StockLevel, counted: int) -> bool:
    """A stock take may not count fewer units than are promised to orders."""
    return counted >= level.reserved
