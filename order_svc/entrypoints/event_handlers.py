"""Kafka events the order service reacts to, translated into use-case commands."""

from __future__ import annotations

from collections.abc import Mapping

from google.protobuf.message import Message

from mesh.messaging.events import EventEnvelope
from mesh.messaging.kafka import ConsumerSpec, EventHandler
from oms.inventory.v1 import events_pb2 as inventory_events
from oms.payment.v1 import events_pb2 as payment_events
from order_svc.domain.model import Shortfall
from order_svc.service_layer.ports import Dependencies
from order_svc.service_layer.saga import (
    PaymentFailed,
    ReservationOutcome,
    apply_payment_failed,
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

    return {
        inventory_events.InventoryReserved: on_reserved,
        inventory_events.StockReservationFailed: on_reservation_failed,
        payment_events.PaymentFailed: on_payment_failed,
    }


def consumer_spec(deps: Dependencies, *, group_id: str, topics: list[str]) -> ConsumerSpec:
    """What the process's consumer reads (``topics``, as ``group_id``) and who handles each event."""
    return ConsumerSpec(group_id=group_id, topics=topics, handlers=event_handlers(deps))
