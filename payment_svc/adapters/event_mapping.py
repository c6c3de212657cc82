"""Domain events to outbox events on the payments topic (``oms.payment.v1``), keyed by order_id.

Protobuf exists only here, at the edge: the domain and the use cases record plain dataclasses,
and the unit of work turns them into outbox rows with this mapping (docs/architecture.md).
"""

from __future__ import annotations

from google.protobuf.message import Message

from mesh.messaging.events import OutgoingEvent
from mesh.messaging.kafka import Topics
from mesh.serving.wire import money
from oms.payment.v1 import events_pb2
from payment_svc.adapters.topics import PAYMENTS
from payment_svc.domain import events


def to_outgoing(event: events.Event, topics: Topics) -> OutgoingEvent:
    return OutgoingEvent(topics.name(PAYMENTS), event.order_id, _message(event))


def _message(event: events.Event) -> Message:
    amount = money(event.amount_minor, event.currency)
    match event:
        case events.PaymentAuthorized():
            return events_pb2.PaymentAuthorized(
                order_id=event.order_id,
                amount=amount,
                provider=event.provider,
                provider_ref=event.provider_ref,
                customer_id=event.customer_id,
            )
        case events.PaymentCaptured():
            return events_pb2.PaymentCaptured(
                order_id=event.order_id, amount=amount, provider_ref=event.provider_ref, customer_id=event.customer_id
            )
        case events.PaymentFailed():
            return events_pb2.PaymentFailed(
                order_id=event.order_id,
                reason=event.reason,
                decline_code=event.decline_code,
                amount=amount,
                customer_id=event.customer_id,
            )
        case events.PaymentRefunded():
            return events_pb2.PaymentRefunded(
                order_id=event.order_id,
                amount=amount,
                reason=event.reason,
                captured=event.captured,
                customer_id=event.customer_id,
            )
    raise TypeError(f"not a payment event: {event!r}")
