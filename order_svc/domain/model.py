"""The order aggregate. It records what happened as domain events instead of calling anyone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from order_svc.domain.events import OrderCancelled, OrderEvent, OrderPlaced, OrderStatusChanged
from order_svc.domain.status import OrderStatus, check_transition


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    quantity: int
    product_name: str
    unit_price_minor: int

    @property
    def line_total_minor(self) -> int:
        return self.unit_price_minor * self.quantity


@dataclass(frozen=True)
class Shortfall:
    product_id: str
    requested: int
    available: int


@dataclass
class Order:
    order_id: str
    customer_id: str
    currency: str
    lines: list[OrderLine]
    status: OrderStatus = OrderStatus.PENDING
    status_reason: str = ""
    shortfalls: list[Shortfall] = field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1
    # Recorded by place/move_to; the unit of work collects (and clears) them when it commits.
    events: list[OrderEvent] = field(default_factory=list, repr=False, compare=False)

    @property
    def total_minor(self) -> int:
        return sum(line.line_total_minor for line in self.lines)

    @classmethod
    def place(
        cls, *, order_id: str, customer_id: str, currency: str, lines: list[OrderLine], payment_method: str = ""
    ) -> Order:
        order = cls(order_id=order_id, customer_id=customer_id, currency=currency, lines=lines)
        # The token travels with the placement only (payment_svc keeps it); the order never stores it.
        order.events.append(OrderPlaced(order_id, payment_method))
        return order

    def move_to(self, status: OrderStatus, *, reason: str = "") -> None:
        """Applies one transition of the state machine, or raises IllegalTransition."""
        check_transition(self.status, status)
        previous = self.status
        self.status = status
        self.status_reason = reason
        self.version += 1
        if status is OrderStatus.CANCELLED:
            self.events.append(OrderCancelled(self.order_id, previous, reason))
        else:
            self.events.append(OrderStatusChanged(self.order_id, previous, status, reason))

    def reject(self, reason: str, shortfalls: list[Shortfall]) -> None:
        self.move_to(OrderStatus.REJECTED, reason=reason)
        self.shortfalls = list(shortfalls)
