"""The Kafka events payment_svc consumes, translated into its use cases: the amount is the
order's total in minor units (its lines kept to check it), a sub-cent amount is never charged,
SHIPPED captures and REJECTED closes a payment that will never be authorized."""

from __future__ import annotations

import uuid

from google.protobuf.message import Message

from mesh.messaging.events import EventEnvelope
from mesh.messaging.kafka import Topics
from oms.inventory.v1 import events_pb2 as inventory_events
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2
from payment_svc.domain.model import PaymentStatus
from payment_svc.entrypoints.event_handlers import PaymentEventHandlers, consumer_spec
from tests.integration.payment_svc.support import order, placed
from tests.unit.payment_svc.fakes import Harness


def envelope(message: Message) -> EventEnvelope:
    return EventEnvelope(
        event_id=str(uuid.uuid4()),
        event_type=message.DESCRIPTOR.full_name,
        source="tests",
        key="o-1",
        message=message,
        topic="t",
        partition=0,
        offset=0,
        headers={},
    )


def status_changed(order_id: str, new: order_pb2.OrderStatus.ValueType) -> order_events.OrderStatusChanged:
    return order_events.OrderStatusChanged(order=order(order_id), new_status=new, reason="why")


async def test_the_consumer_reads_orders_and_inventory_and_hands_each_event_type_to_its_handler() -> None:
    spec = consumer_spec(Topics("p."), "payment-svc", Harness().deps)
    assert spec.topics == ["p.orders", "p.inventory"]
    assert set(spec.handlers) == {
        order_events.OrderPlaced,
        order_events.OrderCancelled,
        order_events.OrderStatusChanged,
        inventory_events.InventoryReserved,
    }


async def test_a_placement_and_its_reservation_authorize_the_total_then_shipping_captures() -> None:
    h = Harness()
    handlers = PaymentEventHandlers(h.deps)
    await handlers.order_placed(envelope(placed("o-1", "tok_visa", unit_minor=750, quantity=2)))
    await handlers.inventory_reserved(envelope(inventory_events.InventoryReserved(order_id="o-1")))
    payment = h.payment("o-1")
    assert (payment.status, payment.amount_minor, payment.currency) == (PaymentStatus.AUTHORIZED, 1500, "EUR")
    assert payment.customer_id == "cust-o-1"

    await handlers.order_status_changed(envelope(status_changed("o-1", order_pb2.ORDER_STATUS_SHIPPED)))
    assert h.payment("o-1").status is PaymentStatus.CAPTURED
    assert h.metrics.events[-1] == ("OrderStatusChanged", "applied")


async def test_a_sub_cent_total_is_never_charged() -> None:
    h = Harness()
    message = placed("o-1", "tok_visa")
    message.order.total.nanos = 5  # a billionth of a euro more
    await PaymentEventHandlers(h.deps).order_placed(envelope(message))
    await PaymentEventHandlers(h.deps).inventory_reserved(envelope(inventory_events.InventoryReserved(order_id="o-1")))

    assert h.payment("o-1").status is PaymentStatus.FAILED
    assert h.provider.authorize_calls == []


async def test_a_rejected_order_closes_its_payment_and_other_statuses_change_nothing() -> None:
    h = Harness()
    handlers = PaymentEventHandlers(h.deps)
    await handlers.order_placed(envelope(placed("o-1", "tok_visa")))
    await handlers.order_status_changed(envelope(status_changed("o-1", order_pb2.ORDER_STATUS_CONFIRMED)))
    assert h.payment("o-1").status is PaymentStatus.AWAITING
    await handlers.order_status_changed(envelope(status_changed("o-1", order_pb2.ORDER_STATUS_REJECTED)))
    assert h.payment("o-1").status is PaymentStatus.CANCELLED
    assert h.provider.authorize_calls == []
