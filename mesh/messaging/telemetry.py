"""Spans and metrics of the messaging hops (OpenTelemetry messaging semantic conventions).

The producer span continues the trace stored with the outbox row (the request that wrote the
event) and its context travels in the Kafka headers; the consumer span is a *child* of it,
with a span link as well, so one trace runs through every hop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from google.protobuf.message import Message
from opentelemetry import context, propagate, trace
from opentelemetry.trace import Link, Span, SpanKind
from prometheus_client import Counter, Gauge

from mesh.messaging.events import EventEnvelope
from mesh.telemetry.logs import ORDER_ID_ATTRIBUTE, order_scope

tracer = trace.get_tracer("oms.mesh.messaging")

EVENTS_CONSUMED = Counter("oms_events_consumed", "Events handled", ["group", "topic", "type"])
EVENTS_FAILED = Counter("oms_events_failed", "Failed handling attempts", ["group", "topic"])
EVENTS_DEAD_LETTERED = Counter("oms_events_dead_lettered", "Events sent to a dead-letter topic", ["group", "topic"])
EVENTS_SKIPPED = Counter("oms_events_skipped", "Events of unknown type skipped", ["group", "topic"])
CONSUMER_LAG = Gauge("oms_consumer_lag", "Messages not yet consumed", ["group", "topic", "partition"])
EVENTS_PUBLISHED = Counter("oms_events_published", "Events the outbox relay published", ["source", "topic"])
OUTBOX_BACKLOG = Gauge("oms_outbox_backlog", "Outbox rows waiting to be published (not parked)", ["source"])
OUTBOX_OLDEST_AGE = Gauge("oms_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row", ["source"])
OUTBOX_PARKED = Gauge("oms_outbox_parked", "Outbox rows parked (refused by the broker)", ["source"])
EVENTS_PARKED = Counter(
    "oms_outbox_events_parked", "Outbox events parked because the broker refused them for good", ["source", "topic"]
)


def order_id_of(message: Message) -> str:
    """The order an event is about, when it is about one (for the ``order.id`` attribute)."""
    for holder in (message, getattr(message, "order", None)):
        value = getattr(holder, "order_id", "") if holder is not None else ""
        if isinstance(value, str) and value:
            return value
    return ""


def start_publish_span(*, topic: str, key: str, event_id: str, event_type: str, stored: Mapping[str, str]) -> Span:
    """A PRODUCER span continuing the trace of the transaction that wrote the event."""
    attributes = {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.destination.name": topic,
        "messaging.message.id": event_id,
        "messaging.kafka.message.key": key,
        "cloudevents.event_type": event_type,
    }
    return tracer.start_span(
        f"send {topic}", context=propagate.extract(dict(stored)), kind=SpanKind.PRODUCER, attributes=attributes
    )


def trace_headers(span: Span) -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return carrier


@contextmanager
def process_span(group: str, envelope: EventEnvelope) -> Iterator[Span]:
    """A CONSUMER span, child of the producer span carried in the headers (and linked to it);
    log lines written inside carry the event's order id."""
    parent = propagate.extract(dict(envelope.headers))
    producer = trace.get_current_span(parent).get_span_context()
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.destination.name": envelope.topic,
        "messaging.consumer.group.name": group,
        "messaging.destination.partition.id": str(envelope.partition),
        "messaging.kafka.offset": envelope.offset,
        "messaging.message.id": envelope.event_id,
        "cloudevents.event_type": envelope.event_type,
    }
    order_id = order_id_of(envelope.message)
    if order_id:
        attributes[ORDER_ID_ATTRIBUTE] = order_id
    links = [Link(producer)] if producer.is_valid else []
    token = context.attach(parent)
    try:
        # order_scope: every log line of the handling (inside child spans too) names the order.
        with (
            tracer.start_as_current_span(
                f"process {envelope.topic}", kind=SpanKind.CONSUMER, links=links, attributes=attributes
            ) as span,
            order_scope(order_id),
        ):
            yield span
    finally:
        context.detach(token)
