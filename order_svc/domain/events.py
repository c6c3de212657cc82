"""What happened to an order, in domain terms (protobuf only at the edges)."""

from __future__ import annotations

from dataclasses import dataclass

from order_svc.domain.status import OrderStatus


@dataclass(frozen=True)
class OrderPlaced:
    order_id: str
    # The payment provider's token given to PlaceOrder (empty: paid by other means).
    payment_method: str = ""


@dataclass(frozen=True)
class OrderStatusChanged:
    order_id: str
    old_status: OrderStatus
    new_status: OrderStatus
    reason: str


@dataclass(frozen=True)
class OrderCancelled:
    order_id: str
    previous_status: OrderStatus
    reason: str


# What the order aggregate records about itself.
OrderEvent = OrderPlaced | OrderStatusChanged | OrderCancelled


@dataclass(frozen=True)
class ReservationUnwanted:
    """Stock was reserved for an order that no longer waits for it: inventory must give it back.

    Not recorded by the aggregate (the order does not change): the saga handler publishes it.
    """

    order_id: str
    status: OrderStatus
    reservation_event_id: str


DomainEvent = OrderEvent | ReservationUnwanted
