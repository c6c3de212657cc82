"""Domain events → the protobuf events on the orders topic (``oms.order.v1``), keyed by order id.

An order's events carry a snapshot of the order and its customer's contact (so consumers such as
notify need no call back); ``SqlUnitOfWork`` passes both when it collects the events at commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.message import Message

from mesh.messaging.events import OutgoingEvent
from mesh.messaging.kafka import Topics
from oms.order.v1 import events_pb2, order_pb2
from order_svc.adapters.proto_mapping import STATUS_TO_PROTO, order_to_proto
from order_svc.adapters.topics import ORDERS
from order_svc.domain import events as domain
from order_svc.domain.customer import Customer
from order_svc.domain.model import Order


def contact(customer: Customer | None, customer_id: str) -> events_pb2.CustomerContact:
    if customer is None:
        return events_pb2.CustomerContact(customer_id=customer_id)
    return events_pb2.CustomerContact(
        customer_id=customer.customer_id, name=customer.name, email=customer.email, phone=customer.phone
    )


def order_events(
    order: Order, events: Sequence[domain.OrderEvent], customer: Customer | None, topics: Topics
) -> list[OutgoingEvent]:
    """``events`` recorded by ``order``, each with the order as it is now. Leaves ``order`` as it is."""
    snapshot = order_to_proto(order)
    who = contact(customer, order.customer_id)
    return [_outgoing(order.order_id, _order_message(event, snapshot, who), topics) for event in events]


def _order_message(event: domain.OrderEvent, snapshot: order_pb2.Order, who: events_pb2.CustomerContact) -> Message:
    match event:
        case domain.OrderPlaced():
            return events_pb2.OrderPlaced(order=snapshot, customer=who, payment_method=event.payment_method)
        case domain.OrderStatusChanged():
            return events_pb2.OrderStatusChanged(
                order=snapshot,
                old_status=STATUS_TO_PROTO[event.old_status],
                new_status=STATUS_TO_PROTO[event.new_status],
                reason=event.reason,
                customer=who,
            )
        case domain.OrderCancelled():
            return events_pb2.OrderCancelled(
                order=snapshot,
                previous_status=STATUS_TO_PROTO[event.previous_status],
                reason=event.reason,
                customer=who,
            )


def published_event(event: domain.DomainEvent, topics: Topics) -> OutgoingEvent:
    """An event a handler published itself (one no stored order recorded)."""
    if not isinstance(event, domain.ReservationUnwanted):
        raise TypeError(f"{type(event).__name__} is recorded by its order, not published on its own")
    message = events_pb2.OrderReservationUnwanted(
        order_id=event.order_id,
        status=STATUS_TO_PROTO[event.status],
        reservation_event_id=event.reservation_event_id,
    )
    return _outgoing(event.order_id, message, topics)


def _outgoing(order_id: str, message: Message, topics: Topics) -> OutgoingEvent:
    return OutgoingEvent(topic=topics.name(ORDERS), key=order_id, message=message)
