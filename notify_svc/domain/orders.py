"""The order events the service reacts to, as plain values (converted from protobuf at the edge)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal


class EventKind(enum.Enum):
    ORDER_PLACED = "oms.order.v1.OrderPlaced"
    ORDER_STATUS_CHANGED = "oms.order.v1.OrderStatusChanged"
    ORDER_CANCELLED = "oms.order.v1.OrderCancelled"
    # Refunds are payment_svc's; the order's snapshot then holds only its id and the amount.
    PAYMENT_REFUNDED = "oms.payment.v1.PaymentRefunded"


@dataclass(frozen=True)
class Money:
    currency: str
    amount: Decimal

    def __str__(self) -> str:
        # Two decimals whatever the currency: good enough for a notification, not for accounting.
        return f"{self.amount.quantize(Decimal('0.01'))} {self.currency}".strip()


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    name: str
    quantity: int
    unit_price: Money
    line_total: Money


@dataclass(frozen=True)
class OrderSnapshot:
    order_id: str
    customer_id: str
    status: str  # e.g. "CONFIRMED": the enum name without its ORDER_STATUS_ prefix
    lines: tuple[OrderLine, ...]
    total: Money


@dataclass(frozen=True)
class CustomerContact:
    customer_id: str
    name: str
    email: str
    phone: str = ""


@dataclass(frozen=True)
class OrderEvent:
    """One consumed order event: what happened, to which order, and whom to tell."""

    event_id: str
    kind: EventKind
    order: OrderSnapshot
    # None when the event names no customer: the notification then fails at once.
    customer: CustomerContact | None
    new_status: str
    old_status: str = ""
    reason: str = ""

    @property
    def event_type(self) -> str:
        return self.kind.value
