"""Stream bounds on the real mesh behind the real gateway: caps (429), lifetime, token expiry.

Short settings through the processes' environment: streams live 3 s (order service and
gateway), the gateway serves at most 2 streams per caller and 4 in all, and neither process
tolerates clock skew on ``exp`` (leeway 0), so a token minted for 2 s ends its stream in 2 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from mesh.auth.minting import mint_token
from oms.order.v1 import order_pb2, order_pb2_grpc
from order_svc.entrypoints.order_servicer import STREAM_END_KEY
from testkit.infra import Infra
from testkit.processes import new_mesh
from tests.e2e.gateway_support import Stack, details_of, running_stack, sse_events, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

LIFETIME_S = 3.0
NO_LEEWAY = {"OMS_AUTH_LEEWAY_S": "0"}
ORDER_ENV = NO_LEEWAY | {"OMS_ORDER_WATCH_MAX_LIFETIME_S": str(LIFETIME_S)}
GATEWAY_ENV = NO_LEEWAY | {
    "OMS_GATEWAY_STREAM_MAX_LIFETIME_S": str(LIFETIME_S),
    "OMS_GATEWAY_MAX_STREAMS_PER_PRINCIPAL": "2",
    "OMS_GATEWAY_MAX_STREAMS": "4",
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("stream-bounds")))
    try:
        async with running_stack(mesh, order_env=ORDER_ENV, gateway_env=GATEWAY_ENV) as running:
            yield running
    finally:
        await mesh.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def orders(stack: Stack) -> AsyncIterator[order_pb2_grpc.OrderServiceStub]:
    """A gRPC client of the order service itself, past the gateway."""
    async with grpc.aio.insecure_channel(stack.service("order").address) as channel:
        yield order_pb2_grpc.OrderServiceStub(channel)


async def customer_with_order(stack: Stack) -> tuple[str, str]:
    customer, product = await stack.customer(), await stack.product(stock=5)
    return customer, (await stack.place(customer, product))["orderId"]


def customer_headers(stack: Stack, customer: str) -> dict[str, str]:
    return stack.headers(customer, "customer") | {"Accept": "text/event-stream"}


@contextlib.asynccontextmanager
async def sse(stack: Stack, order_id: str, headers: dict[str, str]) -> AsyncIterator[AsyncIterator[Any]]:
    """An open event stream that has delivered its first message; yields its remaining events."""
    async with stack.http.stream("GET", f"/orders/{order_id}:watch", headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        events = sse_events(response)
        event, data = await asyncio.wait_for(anext(events), 10)
        assert (event, data["order"]["orderId"]) == ("message", order_id)
        yield events


async def rest(events: AsyncIterator[Any]) -> list[tuple[str, Any]]:
    return [item async for item in events]


async def test_sse_beyond_the_gateway_caps_is_429_and_every_stream_ends_at_its_lifetime(stack: Stack) -> None:
    (first, first_order), (second, second_order), (third, third_order) = [
        await customer_with_order(stack) for _ in range(3)
    ]
    async with contextlib.AsyncExitStack() as held:
        started = time.monotonic()
        opened = await asyncio.gather(
            *(
                held.enter_async_context(sse(stack, order, customer_headers(stack, customer)))
                for customer, order in [(first, first_order)] * 2 + [(second, second_order)] * 2
            )
        )
        for customer, order, subject in [(first, first_order, "caller"), (third, third_order, "process")]:
            refused = await stack.call(
                "GET", f"/orders/{order}:watch", headers=customer_headers(stack, customer), expect=429
            )
            assert refused.headers["retry-after"].isdigit()
            body = status_body(refused)
            assert body["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
            assert [v["subject"] for d in details_of(body, "google.rpc.QuotaFailure") for v in d["violations"]] == [
                subject
            ]
        # Nobody closes them: each ends by itself at its lifetime, cleanly (no error event).
        remaining = await asyncio.wait_for(asyncio.gather(*(rest(events) for events in opened)), 30)
        assert time.monotonic() - started >= LIFETIME_S - 0.5
        assert all(event == "message" for events in remaining for event, _ in events), remaining
    # The slots are free again.
    async with sse(stack, third_order, customer_headers(stack, third)):
        pass


async def test_an_event_stream_ends_with_an_error_event_when_its_token_expires(stack: Stack) -> None:
    customer, order = await customer_with_order(stack)
    token = mint_token(customer, ["customer"], ttl_s=2)
    async with sse(stack, order, {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}) as events:
        remaining = await asyncio.wait_for(rest(events), 30)
    # The token ended it, not the lifetime (which ends a stream cleanly).
    errors = [data for event, data in remaining if event == "error"]
    assert [e["code"] for e in errors] == [grpc.StatusCode.UNAUTHENTICATED.value[0]], remaining
    # Reconnecting with the same token is a plain 401.
    reply = await stack.http.get(
        f"/orders/{order}:watch", headers={"Accept": "text/event-stream"}, params={"access_token": token}
    )
    assert reply.status_code == 401


async def test_a_grpc_watch_ends_ok_at_its_lifetime_whatever_deadline_it_asks(
    stack: Stack, orders: order_pb2_grpc.OrderServiceStub
) -> None:
    customer, order = await customer_with_order(stack)
    started = time.monotonic()
    call: Any = orders.WatchOrder(
        order_pb2.WatchOrderRequest(order_id=order), metadata=stack.mesh.metadata(customer, "customer"), timeout=3600
    )
    statuses = []
    while (reply := await asyncio.wait_for(call.read(), 30)) is not grpc.aio.EOF:
        statuses.append(reply.order.status)
    assert LIFETIME_S - 0.5 <= time.monotonic() - started < LIFETIME_S + 10
    assert await call.code() == grpc.StatusCode.OK
    assert dict(await call.trailing_metadata())[STREAM_END_KEY] == "max-lifetime"
    assert statuses and statuses[-1] not in (order_pb2.ORDER_STATUS_CANCELLED, order_pb2.ORDER_STATUS_REJECTED)


async def test_a_grpc_watch_ends_unauthenticated_when_its_token_expires(
    stack: Stack, orders: order_pb2_grpc.OrderServiceStub
) -> None:
    customer, order = await customer_with_order(stack)
    token = mint_token(customer, ["customer"], ttl_s=2)
    call: Any = orders.WatchOrder(
        order_pb2.WatchOrderRequest(order_id=order), metadata=(("authorization", f"Bearer {token}"),), timeout=60
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        while await asyncio.wait_for(call.read(), 30) is not grpc.aio.EOF:
            pass
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED  # the lifetime would end it OK
    assert "token expired" in (caught.value.details() or "")
