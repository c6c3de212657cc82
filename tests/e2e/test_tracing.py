"""One order placed through the HTTP gateway is one trace across all four processes.

Every process exports OTLP/gRPC to a receiver started by the test. The HTTP request carries a
``traceparent`` of the test's own, so the trace id is known in advance; the test then follows
the saga's chain span by span:

    gateway SERVER → gateway CLIENT → order_svc SERVER (PlaceOrder) ⇢ send orders
      → inventory_svc process orders ⇢ send inventory → order_svc process inventory
      ⇢ send orders (confirmed) → notify_svc process orders

and checks that each consumer span is a child of the producer span *and* links to it, and that
the W3C headers on the Kafka records are really those of the producer spans.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable

import pytest
from confluent_kafka import Consumer

from mesh.messaging.events import headers_dict
from mesh.messaging.kafka import Topics
from testkit.processes import Mesh
from testkit.wait import eventually
from tests.e2e.tracing_support import (
    CLIENT,
    CONSUMER,
    PRODUCER,
    SERVER,
    SERVICES,
    ObservedStack,
    ReceivedSpan,
    SpanReceiver,
    new_traceparent,
    observed_stack,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
async def receiver() -> AsyncIterator[SpanReceiver]:
    started = SpanReceiver()
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
async def stack(mesh: Mesh, receiver: SpanReceiver) -> AsyncIterator[ObservedStack]:
    async with observed_stack(mesh, otlp_endpoint=receiver.endpoint) as running:
        yield running


class Trace:
    def __init__(self, spans: list[ReceivedSpan]) -> None:
        self.spans = spans
        self.by_id = {s.span_id: s for s in spans}

    def one(self, what: str, predicate: Callable[[ReceivedSpan], bool]) -> ReceivedSpan:
        found = [s for s in self.spans if predicate(s)]
        assert found, f"no span for {what}; spans: {self.describe()}"
        return found[0]

    def children(self, parent: ReceivedSpan) -> list[ReceivedSpan]:
        return [s for s in self.spans if s.parent_span_id == parent.span_id]

    def descendants(self, root: ReceivedSpan) -> Iterable[ReceivedSpan]:
        for child in self.children(root):
            yield child
            yield from self.descendants(child)

    def describe(self) -> str:
        return "\n".join(f"  {s.service} {s.kind} {s.name} {s.span_id}←{s.parent_span_id}" for s in self.spans)


def _complete(spans: list[ReceivedSpan], topics: Topics) -> bool:
    """Every span the test looks at has arrived: the last hop's consumer closes the chain.

    Spans of one process are exported in the order they end, and a parent ends after its
    children, so once the last consumer span of a chain is here, so are the spans under it.
    """
    confirmed_sent = {
        s.span_id
        for s in spans
        if s.kind == PRODUCER and "OrderStatusChanged" in str(s.attributes.get("cloudevents.event_type"))
    }
    notified_of_confirmation = any(
        s.service == "notify_svc" and s.kind == CONSUMER and s.parent_span_id in confirmed_sent for s in spans
    )
    settled = any(
        s.service == "order_svc"
        and s.kind == CONSUMER
        and s.attributes.get("messaging.destination.name") == topics.name("inventory")
        for s in spans
    )
    http = any(s.service == "gateway" and s.kind == SERVER for s in spans)
    return set(SERVICES) <= {s.service for s in spans} and http and settled and notified_of_confirmation


async def _wait_for_trace(receiver: SpanReceiver, trace_id: str, topics: Topics, timeout_s: float = 60.0) -> Trace:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        spans = receiver.trace(trace_id)
        if _complete(spans, topics):
            return Trace(spans)
        await asyncio.sleep(0.2)
    spans = receiver.trace(trace_id)
    raise AssertionError(
        f"trace {trace_id} incomplete after {timeout_s}s: services {sorted({s.service for s in spans})}\n"
        + Trace(spans).describe()
    )


def _consumer_of(trace: Trace, producer: ReceivedSpan, service: str) -> ReceivedSpan:
    """The consumer span of ``service`` that processed what ``producer`` sent: its child and linked."""
    consumer = trace.one(
        f"{service} processing {producer.name} ({producer.span_id})",
        lambda s: s.service == service and s.kind == CONSUMER and s.parent_span_id == producer.span_id,
    )
    assert (producer.trace_id, producer.span_id) in consumer.links, "the consumer span must link to the producer"
    attributes = consumer.attributes
    assert attributes["messaging.system"] == "kafka"
    assert attributes["messaging.operation.type"] == "process"
    assert attributes["messaging.destination.name"] == producer.attributes["messaging.destination.name"]
    assert attributes["messaging.message.id"] == producer.attributes["messaging.message.id"]
    assert attributes["messaging.consumer.group.name"]
    assert "messaging.kafka.offset" in attributes and "messaging.destination.partition.id" in attributes
    return consumer


def _producer_under(trace: Trace, root: ReceivedSpan, topic: str, event_type: str) -> ReceivedSpan:
    """A PRODUCER span for ``topic`` in the subtree of ``root`` (the relay continues the writer's context)."""
    for span in trace.descendants(root):
        if (
            span.kind == PRODUCER
            and span.attributes.get("messaging.destination.name") == topic
            and event_type in str(span.attributes.get("cloudevents.event_type"))
        ):
            assert span.service == root.service, "the relay of the service that wrote the event sends it"
            assert span.attributes["messaging.system"] == "kafka"
            assert span.attributes["messaging.operation.type"] == "send"
            assert span.attributes["messaging.message.id"]
            return span
    raise AssertionError(f"no {event_type} sent to {topic} under {root.name}:\n{trace.describe()}")


def _kafka_trace_headers(bootstrap: str, topic: str, event_ids: set[str]) -> dict[str, str]:
    """event id → the traceparent header of the record on ``topic`` (read back from Kafka)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"trace-check-{topic}-{time.time_ns()}",
            "auto.offset.reset": "earliest",
        }
    )
    found: dict[str, str] = {}
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not event_ids <= set(found):
            for message in consumer.consume(100, 0.5):
                if message.error() is None:
                    headers = headers_dict(message.headers())
                    found[headers.get("ce_id", "")] = headers.get("traceparent", "")
    finally:
        consumer.close()
    return found


async def test_one_order_is_one_trace_through_all_four_processes(
    stack: ObservedStack, receiver: SpanReceiver, mesh: Mesh
) -> None:
    topics = Topics(mesh.kafka.topic_prefix)
    product, customer = await stack.product(stock=10), await stack.customer()
    traceparent, trace_id, caller_span_id = new_traceparent()

    placed = await stack.call(
        "POST",
        "/orders",
        {"customerId": customer, "items": [{"productId": product, "quantity": 2}]},
        headers={"traceparent": traceparent},
    )
    order_id = placed["order"]["orderId"]
    trace = await _wait_for_trace(receiver, trace_id, topics)
    assert {s.service for s in trace.spans} >= set(SERVICES)

    # gateway: the HTTP request continues the caller's trace; the upstream call is its child.
    http = trace.one("the gateway's HTTP span", lambda s: s.service == "gateway" and s.kind == SERVER)
    assert http.parent_span_id == caller_span_id
    assert http.name == "POST /orders"
    assert http.attributes["http.request.method"] == "POST"
    assert http.attributes["http.route"] == "/orders"
    assert http.attributes["http.response.status_code"] == 200
    assert http.attributes["url.path"] == "/orders"
    call = trace.one("the gateway's PlaceOrder call", lambda s: s.kind == CLIENT and s.parent_span_id == http.span_id)
    assert call.service == "gateway"
    assert call.attributes["rpc.system"] == "grpc"
    assert call.attributes["rpc.method"] == "PlaceOrder"
    assert call.attributes["rpc.service"] == "oms.order.v1.OrderService"

    # order_svc: the server span is the child of the gateway's client span, about this order.
    place = trace.one("order_svc PlaceOrder", lambda s: s.kind == SERVER and s.parent_span_id == call.span_id)
    assert place.service == "order_svc"
    assert place.attributes["rpc.system"] == "grpc"
    assert place.attributes["rpc.method"] == "PlaceOrder"
    assert place.attributes["rpc.grpc.status_code"] == 0
    assert place.attributes["order.id"] == order_id
    transactions = [
        s
        for s in trace.descendants(place)
        if s.attributes.get("db.system") == "postgresql" and s.name.startswith("transaction ")
    ]
    assert transactions, "no database transaction span under PlaceOrder"
    assert any(s.attributes.get("db.transaction.outcome") == "commit" for s in transactions)
    redis = [s for s in trace.spans if s.attributes.get("db.system") == "redis"]
    assert redis, "no Redis span (the inventory cache)"

    # order_svc ⇢ Kafka ⇢ inventory_svc ⇢ Kafka ⇢ order_svc ⇢ Kafka ⇢ notify_svc
    placed_sent = _producer_under(trace, place, topics.name("orders"), "OrderPlaced")
    reserve = _consumer_of(trace, placed_sent, "inventory_svc")
    assert reserve.attributes["order.id"] == order_id
    outcome_sent = _producer_under(trace, reserve, topics.name("inventory"), "InventoryReserved")
    settle = _consumer_of(trace, outcome_sent, "order_svc")
    assert settle.attributes["order.id"] == order_id
    confirmed_sent = _producer_under(trace, settle, topics.name("orders"), "OrderStatusChanged")
    notified = _consumer_of(trace, confirmed_sent, "notify_svc")
    assert notified.attributes["order.id"] == order_id
    # notify also hears about the placement, from the first event.
    _consumer_of(trace, placed_sent, "notify_svc")

    # The headers really arrive: the records on the topics carry the producer spans' context.
    sent = [placed_sent, confirmed_sent]
    ids = {str(s.attributes["messaging.message.id"]) for s in sent}
    on_topic = await asyncio.to_thread(_kafka_trace_headers, mesh.kafka.bootstrap, topics.name("orders"), ids)
    for span in sent:
        assert on_topic.get(str(span.attributes["messaging.message.id"])) == f"00-{trace_id}-{span.span_id}-01"


async def test_a_request_without_traceparent_starts_a_trace_that_reaches_the_service(
    stack: ObservedStack, receiver: SpanReceiver
) -> None:
    reply = await stack.http.get("/products?pageSize=1", headers=stack.admin)
    assert reply.status_code == 200

    async def root() -> ReceivedSpan | None:
        for s in list(receiver.spans):
            if s.service == "gateway" and s.kind == SERVER and s.attributes.get("http.route") == "/products":
                return s
        return None

    gateway_span = await eventually(root, until=lambda s: s is not None, what="the gateway's span")
    assert gateway_span is not None and not gateway_span.parent_span_id, "a new trace starts at the gateway"

    async def served() -> list[ReceivedSpan]:
        return [s for s in receiver.trace(gateway_span.trace_id) if s.service == "inventory_svc" and s.kind == SERVER]

    spans = await eventually(served, what="inventory_svc's server span in the gateway's trace")
    assert spans[0].attributes["rpc.method"] == "ListProducts"
