"""Order events from Kafka, translated into domain events and handed to the service layer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

from google.protobuf.message import Message as ProtoMessage
from google.type import money_pb2

from mesh.messaging.events import EventEnvelope
from mesh.messaging.kafka import ConsumerSpec, EventHandler, Topics
from notify_svc.adapters.cloud_events import cloud_event_json
from notify_svc.adapters.topics import ORDERS
from notify_svc.domain.orders import CustomerContact, EventKind, Money, OrderEvent, OrderLine, OrderSnapshot
from notify_svc.service_layer.notifications import record_order_event
from notify_svc.service_layer.ports import Dependencies
from oms.order.v1 import events_pb2, order_pb2

_STATUS_PREFIX = "ORDER_STATUS_"


def consumer_spec(topics: Topics, group_id: str, deps: Dependencies) -> ConsumerSpec:
    async def handle(envelope: EventEnvelope) -> None:
        event = to_domain(envelope)
        # Built here, at the edge: the webhooks get the event as it was on Kafka, and the
        # service layer never sees protobuf.
        await record_order_event(event, deps, cloud_event_json(envelope, subject=event.order.order_id))

    handlers: Mapping[type[ProtoMessage], EventHandler] = {
        events_pb2.OrderPlaced: handle,
        events_pb2.OrderStatusChanged: handle,
        events_pb2.OrderCancelled: handle,
    }
    return ConsumerSpec(group_id=group_id, topics=[topics.name(ORDERS)], handlers=handlers)


def to_domain(envelope: EventEnvelope) -> OrderEvent:
    message = envelope.message
    return _CONVERTERS[type(message)](envelope.event_id, message)


def _placed(event_id: str, m: ProtoMessage) -> OrderEvent:
    assert isinstance(m, events_pb2.OrderPlaced)
    order = _order(m.order)
    return OrderEvent(event_id, EventKind.ORDER_PLACED, order, _contact(m, m.customer), new_status=order.status)


def _status_changed(event_id: str, m: ProtoMessage) -> OrderEvent:
    assert isinstance(m, events_pb2.OrderStatusChanged)
    return OrderEvent(
        event_id,
        EventKind.ORDER_STATUS_CHANGED,
        _order(m.order),
        _contact(m, m.customer),
        new_status=_status(m.new_status),
        old_status=_status(m.old_status),
        reason=m.reason,
    )


def _cancelled(event_id: str, m: ProtoMessage) -> OrderEvent:
    assert isinstance(m, events_pb2.OrderCancelled)
    return OrderEvent(
        event_id,
        EventKind.ORDER_CANCELLED,
        _order(m.order),
        _contact(m, m.customer),
        new_status="CANCELLED",
        old_status=_status(m.previous_status),
        reason=m.reason,
    )


_CONVERTERS: dict[type[ProtoMessage], Callable[[str, ProtoMessage], OrderEvent]] = {
    events_pb2.OrderPlaced: _placed,
    events_pb2.OrderStatusChanged: _status_changed,
    events_pb2.OrderCancelled: _cancelled,
}


def _status(value: int) -> str:
    return order_pb2.OrderStatus.Name(value).removeprefix(_STATUS_PREFIX)  # type: ignore[arg-type]


def _money(m: money_pb2.Money) -> Money:
    return Money(m.currency_code, Decimal(m.units) + Decimal(m.nanos).scaleb(-9))


def _order(m: order_pb2.Order) -> OrderSnapshot:
    lines = tuple(
        OrderLine(item.product_id, item.product_name, item.quantity, _money(item.unit_price), _money(item.line_total))
        for item in m.items
    )
    return OrderSnapshot(m.order_id, m.customer_id, _status(m.status), lines, _money(m.total))


def _contact(event: ProtoMessage, m: events_pb2.CustomerContact) -> CustomerContact | None:
    # proto3 message fields have presence: an event without a customer says nothing about whom to tell.
    if not event.HasField("customer") or not m.customer_id:
        return None
    return CustomerContact(m.customer_id, m.name, m.email, m.phone)
