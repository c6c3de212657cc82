"""Prometheus /metrics of every process moves with an order; log lines carry the request's trace.

The mesh runs without a trace exporter (``OTEL_TRACES_EXPORTER=none``): spans still exist, so
trace ids still flow into the log lines.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from prometheus_client.parser import text_string_to_metric_families

from mesh.telemetry.logs import JsonFormatter, about_order
from oms.order.v1 import order_pb2, order_pb2_grpc
from testkit.processes import Mesh
from testkit.wait import eventually
from tests.e2e.tracing_support import SERVICES, ObservedStack, new_traceparent, observed_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def stack(mesh: Mesh) -> AsyncIterator[ObservedStack]:
    async with observed_stack(mesh, otlp_endpoint=None) as running:
        yield running


async def scrape(stack: ObservedStack, service: str) -> Samples:
    """Every sample of the service's /metrics; the text must parse as Prometheus exposition."""
    port = stack.metrics_ports[service]
    async with httpx.AsyncClient(timeout=5) as client:
        reply = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert reply.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str | Callable[[str], bool]) -> float:
    """Sum of the samples called ``name`` whose labels match (a value, or a predicate on it)."""

    def matches(have: dict[str, str]) -> bool:
        for key, want in labels.items():
            value = have.get(key)
            if value is None or not (want(value) if callable(want) else value == want):
                return False
        return True

    return sum(v for (n, lbls), v in samples.items() if n == name and matches(dict(lbls)))


def ends(suffix: str) -> Callable[[str], bool]:
    return lambda value: value.endswith(suffix)


async def test_metrics_of_every_process_parse_and_move_with_an_order(stack: ObservedStack) -> None:
    product, customer = await stack.product(stock=10), await stack.customer()
    before = {service: await scrape(stack, service) for service in SERVICES}

    placed = await stack.call(
        "POST", "/orders", {"customerId": customer, "items": [{"productId": product, "quantity": 1}]}
    )
    order_id = placed["order"]["orderId"]

    async def status() -> str:
        return str((await stack.call("GET", f"/orders/{order_id}"))["order"]["status"])

    await eventually(status, until=lambda s: s == "ORDER_STATUS_CONFIRMED", timeout_s=30, what="CONFIRMED")
    await stack.call("POST", f"/orders/{order_id}:cancel", {"reason": "metrics test"})

    def moved(service: str, check: Callable[[Samples, Samples], bool]) -> Callable[[], Any]:
        async def probe() -> bool:
            return check(before[service], await scrape(stack, service))

        return probe

    def grew(name: str, **labels: Any) -> Callable[[Samples, Samples], bool]:
        return lambda old, new: total(new, name, **labels) > total(old, name, **labels)

    expectations: list[tuple[str, str, Callable[[Samples, Samples], bool]]] = [
        ("gateway", "requests", grew("oms_gateway_requests_total", method="POST", route="/orders", status="200")),
        ("gateway", "latency", grew("oms_gateway_request_duration_seconds_count", method="POST", route="/orders")),
        ("order_svc", "RPCs", grew("oms_grpc_requests_total", method=ends("/PlaceOrder"), code="OK")),
        ("order_svc", "RPC latency", grew("oms_grpc_request_duration_seconds_count", method=ends("/PlaceOrder"))),
        ("order_svc", "placed", grew("oms_orders_placed_total")),
        ("order_svc", "final status", grew("oms_orders_final_total", status=ends("CANCELLED"))),
        ("order_svc", "consumed", grew("oms_events_consumed_total", topic=ends("inventory"))),
        ("order_svc", "published", grew("oms_events_published_total", topic=ends("orders"))),
        ("inventory_svc", "RPCs", grew("oms_grpc_requests_total", code="OK")),
        ("inventory_svc", "consumed", grew("oms_events_consumed_total", topic=ends("orders"))),
        ("inventory_svc", "published", grew("oms_events_published_total", topic=ends("inventory"))),
        ("notify_svc", "consumed", grew("oms_events_consumed_total", topic=ends("orders"))),
        ("notify_svc", "mails", grew("oms_notifications_sent_total")),
        ("payment_svc", "consumed", grew("oms_events_consumed_total", topic=ends("inventory"))),
        ("payment_svc", "events", grew("oms_payment_events_total", event="InventoryReserved", outcome="applied")),
    ]
    for service, what, check in expectations:
        await eventually(moved(service, check), timeout_s=30, interval_s=0.5, what=f"{service}: {what} to move")

    # Gauges exist once measured: outbox backlog and age, consumer lag per partition.
    async def gauges() -> Samples:
        return await scrape(stack, "order_svc")

    after = await eventually(
        gauges,
        until=lambda s: any(n == "oms_consumer_lag" for n, _ in s),
        timeout_s=20,
        interval_s=0.5,
        what="order_svc's consumer lag gauge",
    )
    names = {n for n, _ in after}
    assert {"oms_outbox_backlog", "oms_outbox_oldest_age_seconds"} <= names
    lag_labels = [dict(lbls) for n, lbls in after if n == "oms_consumer_lag"]
    assert all({"group", "topic", "partition"} <= set(lbls) for lbls in lag_labels)
    assert total(after, "oms_outbox_backlog") == 0, "everything was published"
    # Placement prices an order with one BatchGetProducts (a database read); a product read goes
    # through inventory's cache.
    await stack.call("GET", f"/products/{product}")
    inventory = await scrape(stack, "inventory_svc")
    cache = {"oms_cache_hits_total", "oms_cache_misses_total"} & {n for n, _ in inventory}
    assert cache, "inventory_svc exposes its cache counters"


async def test_a_watch_order_the_client_ends_is_counted_cancelled_not_unknown(stack: ObservedStack) -> None:
    product, customer = await stack.product(stock=10), await stack.customer()
    placed = await stack.call(
        "POST", "/orders", {"customerId": customer, "items": [{"productId": product, "quantity": 1}]}
    )
    before = await scrape(stack, "order_svc")
    async with grpc.aio.insecure_channel(stack.mesh.services["order"].address) as channel:
        call: Any = order_pb2_grpc.OrderServiceStub(channel).WatchOrder(
            order_pb2.WatchOrderRequest(order_id=placed["order"]["orderId"]), metadata=stack.mesh.metadata(), timeout=60
        )
        first = await asyncio.wait_for(call.read(), 30)
        assert first is not grpc.aio.EOF and first.order.order_id == placed["order"]["orderId"]
        call.cancel()  # the client has seen enough: a normal end, not a server error

    def counted(samples: Samples) -> tuple[float, float]:
        """(CANCELLED, UNKNOWN) WatchOrder calls so far."""
        method = "/oms.order.v1.OrderService/WatchOrder"
        cancelled = total(samples, "oms_grpc_requests_total", method=method, code="CANCELLED")
        return cancelled, total(samples, "oms_grpc_requests_total", method=method, code="UNKNOWN")

    async def codes_now() -> tuple[float, float]:
        return counted(await scrape(stack, "order_svc"))

    cancelled_before, unknown_before = counted(before)
    cancelled, unknown = await eventually(
        codes_now, until=lambda c: c[0] > cancelled_before, timeout_s=20, interval_s=0.2, what="WatchOrder CANCELLED"
    )
    assert (cancelled, unknown) == (cancelled_before + 1, unknown_before)


def json_lines_with_trace(stack: ObservedStack, service: str, trace_id: str) -> list[dict[str, Any]]:
    return [line for line in stack.log_lines(service) if line.get("trace_id") == trace_id]


async def test_a_log_line_emitted_while_handling_a_request_carries_its_trace_id(stack: ObservedStack) -> None:
    product = await stack.product(stock=1)
    traceparent, trace_id, _ = new_traceparent()

    await stack.call(
        "POST", "/api/inventory/add", {"productId": product, "quantity": "5"}, headers={"traceparent": traceparent}
    )

    # inventory_svc logs "stock added" inside the AddStock handler; the gateway its access line.
    lines = await eventually(
        lambda: _async(json_lines_with_trace(stack, "inventory_svc", trace_id)),
        until=lambda found: any(line["message"] == "stock added" for line in found),
        what="inventory_svc's 'stock added' line with the request's trace id",
    )
    line = next(line for line in lines if line["message"] == "stock added")
    assert line["service"] == "inventory_svc" and line["level"] == "info"
    assert line["product_id"] == product and len(line["span_id"]) == 16 and line["ts"]
    access = await eventually(
        lambda: _async(json_lines_with_trace(stack, "gateway", trace_id)),
        what="the gateway's log line with the request's trace id",
    )
    assert access[0]["service"] == "gateway"
    assert "/api/inventory/add" in access[0]["message"]


async def _async(value: Any) -> Any:
    return value


def test_json_lines_carry_the_order_id_of_the_current_span() -> None:
    # about_order binds the order for the rest of the task: in a context of its own, so later
    # tests of this process do not inherit it.
    contextvars.copy_context().run(_json_lines_carry_the_order_id)


def _json_lines_carry_the_order_id() -> None:
    tracer = TracerProvider().get_tracer("test")
    formatter = JsonFormatter("order_svc")
    record = logging.LogRecord("oms", logging.INFO, __file__, 1, "order touched", (), None)
    with tracer.start_as_current_span("rpc") as span:
        about_order("ord-42")
        tagged = formatter.format(record)
    assert isinstance(span, ReadableSpan) and span.attributes is not None
    assert span.attributes["order.id"] == "ord-42"
    entry = json.loads(tagged)
    assert entry["order_id"] == "ord-42"
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
    explicit = logging.LogRecord("oms", logging.INFO, __file__, 1, "other", (), None)
    explicit.order_id = "ord-7"
    assert json.loads(formatter.format(explicit))["order_id"] == "ord-7"
