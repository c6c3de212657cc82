"""Events the inventory publishes (past tense, plain dataclasses; protobuf only at the edge)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from inventory_svc.domain.model import Line, Shortfall, StockLevel


class StockChangeCause(enum.Enum):
    RESERVED = "RESERVED"
    RELEASED = "RELEASED"
    SHIPPED = "SHIPPED"
    ADDED = "ADDED"
    AUDITED = "AUDITED"


@dataclass(frozen=True)
class InventoryReserved:
    order_id: str
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class StockReservationFailed:
    order_id: str
    reason: str
    shortfalls: tuple[Shortfall, ...]


@dataclass(frozen=True)
class InventoryReleased:
    order_id: str
    lines: tuple[Line, ...]
    reason: str


@dataclass(frozen=True)
class StockLevelChanged:
    level: StockLevel
    cause: StockChangeCause
    order_id: str = ""


Event = InventoryReserved | StockReservationFailed | InventoryReleased | StockLevelChanged
