"""Domain objects ↔ protobuf messages, at the edges only."""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.messaging.events import OutgoingEvent
from mesh.messaging.kafka import Topics
from mesh.serving.wire import optional_timestamp
from mesh.values import money
from oms.order.v1 import customer_pb2, events_pb2, order_pb2
from order_svc.adapters.repository import Customer
from order_svc.adapters.topics import ORDERS
from order_svc.domain import events as domain_events
from order_svc.domain.model import Order
from order_svc.domain.status import OrderStatus

STATUS_TO_PROTO = {status: order_pb2.OrderStatus.Value(f"ORDER_STATUS_{status.value}") for status in OrderStatus}
STATUS_FROM_PROTO = {number: status for status, number in STATUS_TO_PROTO.items()}


def order_to_proto(order: Order) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=order.order_id,
        customer_id=order.customer_id,
        status=STATUS_TO_PROTO[order.status],
        status_reason=order.status_reason,
        total=money.to_proto(order.total_minor, order.currency),
        version=order.version,
        items=[
            order_pb2.OrderItem(
                product_id=line.product_id,
                quantity=line.quantity,
                product_name=line.product_name,
                unit_price=money.to_proto(line.unit_price_minor, order.currency),
                line_total=money.to_proto(line.line_total_minor, order.currency),
            )
            for line in order.lines
        ],
        shortfalls=[
            order_pb2.StockShortfall(product_id=s.product_id, requested=s.requested, available=s.available)
            for s in order.shortfalls
        ],
        create_time=optional_timestamp(order.created_at),
        update_time=optional_timestamp(order.updated_at),
    )


def customer_to_proto(customer: Customer) -> customer_pb2.Customer:
    return customer_pb2.Customer(
        customer_id=customer.customer_id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        create_time=optional_timestamp(customer.created_at),
        update_time=optional_timestamp(customer.updated_at),
    )


def contact(customer: Customer | None, customer_id: str) -> events_pb2.CustomerContact:
    if customer is None:
        return events_pb2.CustomerContact(customer_id=customer_id)
    return events_pb2.CustomerContact(
        customer_id=customer.customer_id, name=customer.name, email=customer.email, phone=customer.phone
    )


def outgoing_events(order: Order, customer: Customer | None, topics: Topics) -> list[OutgoingEvent]:
    """The order's recorded domain events as protobuf events on the orders topic."""
    snapshot = order_to_proto(order)
    who = contact(customer, order.customer_id)
    messages: list[Message] = []
    for event in order.events:
        if isinstance(event, domain_events.OrderPlaced):
            messages.append(events_pb2.OrderPlaced(order=snapshot, customer=who))
        elif isinstance(event, domain_events.OrderStatusChanged):
            messages.append(
                events_pb2.OrderStatusChanged(
                    order=snapshot,
                    old_status=STATUS_TO_PROTO[event.old_status],
                    new_status=STATUS_TO_PROTO[event.new_status],
                    reason=event.reason,
                    customer=who,
                )
            )
        else:
            messages.append(
                events_pb2.OrderCancelled(
                    order=snapshot,
                    previous_status=STATUS_TO_PROTO[event.previous_status],
                    reason=event.reason,
                    customer=who,
                )
            )
    order.events.clear()
    return [OutgoingEvent(topic=topics.name(ORDERS), key=order.order_id, message=m) for m in messages]


def reservation_unwanted(
    order_id: str, status: OrderStatus, reservation_event_id: str, topics: Topics
) -> OutgoingEvent:
    """Asks inventory to give back a reservation the order no longer waits for."""
    message = events_pb2.OrderReservationUnwanted(
        order_id=order_id, status=STATUS_TO_PROTO[status], reservation_event_id=reservation_event_id
    )
    return OutgoingEvent(topic=topics.name(ORDERS), key=order_id, message=message)
