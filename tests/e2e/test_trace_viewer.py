"""One order is one trace in the trace viewer `make run` starts (Jaeger v2, tools/jaeger).

The four processes export OTLP/gRPC to a real Jaeger with the project's own config; one order
is placed through the gateway without a traceparent of the test's, so the trace id is what an
operator would have: the ``traceresponse`` header of the answer. Jaeger's query API is then
read until that trace holds every hop: the gateway's HTTP span, order_svc's PlaceOrder, the
inventory reservation, order_svc settling it, notify consuming the confirmation and the SMTP
send under that consume span. The first run on a machine builds Jaeger (scripts/tools jaeger).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
import httpx
import pytest

from mesh.telemetry.trace_response import TRACE_RESPONSE, parse_trace_response
from oms.order.v1 import order_pb2, order_pb2_grpc
from testkit.jaeger import BUILD_TIMEOUT_S, JaegerProcess, ViewedSpan
from testkit.processes import Mesh
from testkit.wait import eventually
from tests.e2e.tracing_support import SERVICES, ObservedStack, observed_stack

# The build on a fresh machine comes on top of the test's own minute.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT_S + 300)]


@pytest.fixture
async def jaeger(tmp_path: Path) -> AsyncIterator[JaegerProcess]:
    viewer = JaegerProcess(tmp_path / "jaeger.log")
    try:
        await viewer.start()
        yield viewer
    finally:
        await viewer.stop()


@pytest.fixture
async def stack(mesh: Mesh, jaeger: JaegerProcess) -> AsyncIterator[ObservedStack]:
    async with observed_stack(mesh, otlp_endpoint=jaeger.otlp_endpoint) as running:
        yield running


def _every_hop(spans: list[ViewedSpan]) -> bool:
    """Every span the test looks at has arrived (each process exports in batches of its own, so
    one service's spans come in several goes): the gateway's, PlaceOrder, both consumers of the
    saga and the two SMTP sends (the placement's mail and the confirmation's)."""
    seen = {(s.service, s.kind) for s in spans}
    placed = any(s.service == "order_svc" and s.name.endswith("/PlaceOrder") for s in spans)
    sends = sum(s.service == "notify_svc" and s.name == "smtp send" for s in spans)
    wanted = {
        ("gateway", "server"),
        ("inventory_svc", "consumer"),
        ("order_svc", "consumer"),
        ("notify_svc", "consumer"),
    }
    return wanted <= seen and placed and sends >= 2


def _describe(spans: list[ViewedSpan]) -> str:
    return "\n".join(f"  {s.service} {s.kind} {s.name} {s.span_id}←{s.parent_span_id}" for s in spans)


def _one(spans: list[ViewedSpan], what: str, predicate: Callable[[ViewedSpan], bool]) -> ViewedSpan:
    found = [s for s in spans if predicate(s)]
    assert found, f"no span for {what} in:\n{_describe(spans)}"
    return found[0]


async def _span_in_jaeger(jaeger: JaegerProcess, trace_id: str, span_id: str) -> ViewedSpan | None:
    async with httpx.AsyncClient(timeout=5.0) as http:
        return next((s for s in await jaeger.trace(http, trace_id) if s.span_id == span_id), None)


async def _wait_for_trace(jaeger: JaegerProcess, trace_id: str, timeout_s: float = 90.0) -> list[ViewedSpan]:
    deadline = time.monotonic() + timeout_s
    spans: list[ViewedSpan] = []
    async with httpx.AsyncClient(timeout=5.0) as http:
        while time.monotonic() < deadline:
            spans = await jaeger.trace(http, trace_id)
            if _every_hop(spans):
                return spans
            await asyncio.sleep(0.5)
    raise AssertionError(
        f"trace {trace_id} incomplete in Jaeger after {timeout_s}s:\n{_describe(spans)}\n{jaeger.log_tail()}"
    )


async def test_one_order_is_one_trace_in_jaeger_found_by_the_traceresponse_id(
    stack: ObservedStack, jaeger: JaegerProcess
) -> None:
    product, customer = await stack.product(stock=5), await stack.customer()
    reply = await stack.http.post(
        "/orders",
        json={"customerId": customer, "items": [{"productId": product, "quantity": 1}]},
        headers=stack.admin,
    )
    assert reply.status_code == 200, reply.text
    order_id = reply.json()["order"]["orderId"]
    trace_id, gateway_span_id, sampled = parse_trace_response(reply.headers["traceresponse"])
    assert sampled

    spans = await _wait_for_trace(jaeger, trace_id)
    by_id = {s.span_id: s for s in spans}
    assert {s.service for s in spans} >= set(SERVICES)

    http = by_id[gateway_span_id]
    assert http.service == "gateway" and http.kind == "server" and http.name == "POST /orders"
    assert not http.parent_span_id, "the order's trace starts at the gateway"
    place = _one(spans, "order_svc's PlaceOrder", lambda s: s.service == "order_svc" and s.name.endswith("/PlaceOrder"))
    assert place.kind == "server" and place.tags["order.id"] == order_id
    assert by_id[place.parent_span_id].service == "gateway", "PlaceOrder is the child of the gateway's call"
    reserve = [s for s in spans if s.service == "inventory_svc" and s.kind == "consumer"]
    assert reserve and reserve[0].tags["order.id"] == order_id
    assert any(s.service == "order_svc" and s.kind == "consumer" for s in spans), "order_svc settles it"

    # The SMTP sends: CLIENT spans of their own, each the child of notify's consume span of
    # the event that caused the mail; the server's address, nobody's e-mail address.
    sends = [s for s in spans if s.name == "smtp send"]
    assert len(sends) >= 2
    for send in sends:
        parent = by_id[send.parent_span_id]
        assert send.service == parent.service == "notify_svc"
        assert send.kind == "client" and parent.kind == "consumer"
        assert send.tags["server.address"] == "127.0.0.1" and send.tags["server.port"] == stack.smtp.port
        assert send.tags["order.id"] == order_id
        assert not any("@" in str(value) for value in send.tags.values()), f"an address in {send.tags}"

    # A gRPC client of a service learns the trace from the trailing metadata, on an error too.
    async with stack.mesh.services["order"].channel() as channel:
        get_order = order_pb2_grpc.OrderServiceStub(channel).GetOrder
        metadata = (("authorization", f"Bearer {stack.mesh.token()}"),)
        found = get_order(order_pb2.GetOrderRequest(order_id=order_id), metadata=metadata, timeout=10)
        await found
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await get_order(order_pb2.GetOrderRequest(order_id="no-such-order"), metadata=metadata, timeout=10)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    for trailing in (await found.trailing_metadata(), missing.value.trailing_metadata()):
        answer = dict(trailing or ())[TRACE_RESPONSE]
        assert isinstance(answer, str)
        grpc_trace, grpc_span, _ = parse_trace_response(answer)

        server = await eventually(
            functools.partial(_span_in_jaeger, jaeger, grpc_trace, grpc_span),
            until=lambda found: found is not None,
            what=f"the GetOrder span {grpc_span} of trace {grpc_trace} in Jaeger",
            timeout_s=30,
        )
        assert server is not None
        assert server.service == "order_svc" and server.name.endswith("/GetOrder")
