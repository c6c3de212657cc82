"""Domain events to outbox events: protobuf message, topic and key.

Protobuf exists only here, at the edge: the domain and the use cases publish plain dataclasses,
and the unit of work turns them into outbox rows with this mapping (docs/architecture.md).
"""

from __future__ import annotations

from inventory_svc.adapters.topics import INVENTORY
from inventory_svc.domain import events
from inventory_svc.domain.model import Line
from mesh.messaging.events import OutgoingEvent
from mesh.messaging.kafka import Topics
from oms.inventory.v1 import events_pb2

_CAUSES = {
    events.StockChangeCause.RESERVED: events_pb2.STOCK_CHANGE_CAUSE_RESERVED,
    events.StockChangeCause.RELEASED: events_pb2.STOCK_CHANGE_CAUSE_RELEASED,
    events.StockChangeCause.SHIPPED: events_pb2.STOCK_CHANGE_CAUSE_SHIPPED,
    events.StockChangeCause.ADDED: events_pb2.STOCK_CHANGE_CAUSE_ADDED,
    events.StockChangeCause.AUDITED: events_pb2.STOCK_CHANGE_CAUSE_AUDITED,
}


def _items(lines: tuple[Line, ...]) -> list[events_pb2.ReservedItem]:
    return [events_pb2.ReservedItem(product_id=line.product_id, quantity=line.quantity) for line in lines]


def to_outgoing(event: events.Event, topics: Topics) -> OutgoingEvent:
    """Reservation outcomes are keyed by order_id, stock changes by product_id."""
    match event:
        case events.InventoryReserved(order_id=order_id, lines=lines):
            message = events_pb2.InventoryReserved(order_id=order_id, items=_items(lines))
            return OutgoingEvent(topics.name(INVENTORY), order_id, message)
        case events.StockReservationFailed(order_id=order_id, reason=reason, shortfalls=shortfalls):
            failed = events_pb2.StockReservationFailed(
                order_id=order_id,
                reason=reason,
                shortfalls=[
                    events_pb2.ItemShortfall(product_id=s.product_id, requested=s.requested, available=s.available)
                    for s in shortfalls
                ],
            )
            return OutgoingEvent(topics.name(INVENTORY), order_id, failed)
        case events.InventoryReleased(order_id=order_id, lines=lines, reason=reason):
            released = events_pb2.InventoryReleased(order_id=order_id, items=_items(lines), reason=reason)
            return OutgoingEvent(topics.name(INVENTORY), order_id, released)
        case events.StockLevelChanged(level=level, cause=cause, order_id=order_id):
            changed = events_pb2.StockLevelChanged(
                product_id=level.product_id,
                quantity=level.quantity,
                reserved=level.reserved,
                available=level.available,
                version=level.version,
                cause=_CAUSES[cause],
                order_id=order_id,
            )
            return OutgoingEvent(topics.name(INVENTORY), level.product_id, changed)
    raise TypeError(f"not an inventory event: {event!r}")
