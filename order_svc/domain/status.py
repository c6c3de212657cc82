"""The order state machine: one table, tested exhaustively.

PENDING → CONFIRMED | REJECTED; CONFIRMED → PAID → SHIPPED → DELIVERED; PENDING, CONFIRMED and
PAID → CANCELLED. Anything else is refused, naming both states.
"""

from __future__ import annotations

import enum


class OrderStatus(enum.Enum):
    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    REJECTED = "REJECTED"
    PAID = "PAID"
    SHIPPED = "SHIPPED"
    DELIVERED = "DELIVERED"
    CANCELLED = "CANCELLED"


S = OrderStatus

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.REJECTED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.REJECTED: frozenset(),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}

FINAL_STATUSES = frozenset(status for status, targets in ALLOWED_TRANSITIONS.items() if not targets)

# An order in one of these holds no stock: a reservation that arrives for it (late, or from a
# replayed OrderPlaced) is not wanted and must be given back. Any other status after PENDING
# already holds the order's one reservation (inventory keeps one per order id), so a second
# InventoryReserved for it is the same reservation again and changes nothing.
HOLDS_NO_STOCK = frozenset({S.REJECTED, S.CANCELLED})

# Set only by the stock reservation outcome, never by a caller of UpdateOrderStatus.
SAGA_OUTCOMES = frozenset({S.CONFIRMED, S.REJECTED})


class IllegalTransition(Exception):
    """The state machine does not allow ``current`` → ``requested``."""

    def __init__(self, current: OrderStatus, requested: OrderStatus) -> None:
        super().__init__(f"an order cannot go from {current.value} to {requested.value}")
        self.current = current
        self.requested = requested


def can_transition(current: OrderStatus, requested: OrderStatus) -> bool:
    return requested in ALLOWED_TRANSITIONS[current]


def check_transition(current: OrderStatus, requested: OrderStatus) -> None:
    if not can_transition(current, requested):
        raise IllegalTransition(current, requested)
