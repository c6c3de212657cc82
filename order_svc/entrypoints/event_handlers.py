"""Kafka events the order service reacts to, translated into use-case commands."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.message import Message

from mesh.messaging.events import EventEnvelope
from mesh.messaging.kafka import ConsumerSpec, EventHandler
from mesh.serving.wire import minor_units
from oms.inventory.v1 import events_pb2 as inventory_events
from oms.payment.v1 import events_pb2 as payment_events
from order_svc.domain.model import Shortfall
from order_svc.service_layer.ports import Dependencies
from order_svc.service_layer.saga import (
    PaymentAuthorized,
    PaymentFailed,
    PaymentRefunded,
    ReservationOutcome,
    apply_payment_authorized,
    apply_payment_failed,
    apply_payment_refunded,
    apply_reservation_outcome,
)


def event_handlers(deps: Dependencies) -> Mapping[type[Message], EventHandler]:
    async def on_reserved(envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, inventory_events.InventoryReserved)
        await apply_reservation_outcome(ReservationOutcome(envelope.event_id, event.order_id, reserved=True), deps)

    async def on_reservation_failed(envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, inventory_events.StockReservationFailed)
        shortfalls = tuple(Shortfall(s.product_id, s.requested, s.available) for s in event.shortfalls)
        outcome = ReservationOutcome(
            envelope.event_id, event.order_id, reserved=False, reason=event.reason, shortfalls=shortfalls
        )
        await apply_reservation_outcome(outcome, deps)

    async def on_payment_failed(envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, payment_events.PaymentFailed)
        await apply_payment_failed(PaymentFailed(envelope.event_id, event.order_id, event.reason), deps)

    async def on_payment_authorized(envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, payment_events.PaymentAuthorized)
        try:
            amount = minor_units(event.amount)
        except ValueError:
            amount = -1  # not an amount any order has: never marks it paid
        paid = PaymentAuthorized(envelope.event_id, event.order_id, amount, event.amount.currency_code)
        await apply_payment_authorized(paid, deps)

    async def on_payment_refunded(envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, payment_events.PaymentRefunded)
        await apply_payment_refunded(PaymentRefunded(envelope.event_id, event.order_id, event.reason), deps)

    # PaymentCaptured changes nothing here: the order is SHIPPED already (capture follows it).
    return {
        inventory_events.InventoryReserved: on_reserved,
        inventory_events.StockReservationFailed: on_reservation_failed,
        payment_events.PaymentFailed: on_payment_failed,
        payment_events.PaymentAuthorized: on_payment_authorized,
        payment_events.PaymentRefunded: on_payment_refunded,
    }


def consumer_spec(deps: Dependencies, *, group_id: str, topics: list[str]) -> ConsumerSpec:
    """What the process's consumer reads (``topics``, as ``group_id``) and who handles each event."""
    return ConsumerSpec(group_id=group_id, topics=topics, handlers=event_handlers(deps))
