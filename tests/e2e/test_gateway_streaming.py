"""``GET /orders/{id}:watch`` through the gateway: a follower sees PENDING, then CONFIRMED.

The order service runs without its in-process outbox relay, so a placed order stays PENDING
until the test starts a standalone relay: the watcher is certainly connected before the saga
can move the order (no race, no sleep).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from testkit.infra import Infra
from testkit.processes import RelayProcess, new_mesh
from tests.e2e.gateway_support import Stack, running_stack, sse_events, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("gateway-streaming")))
    try:
        async with running_stack(mesh, order_env={"OMS_ORDER_RUN_RELAY": "false"}) as running:
            yield running
    finally:
        await mesh.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def relay(stack: Stack) -> AsyncIterator[RelayProcess]:
    """The order outbox relay, not started: the test starts it once its watcher is connected."""
    process = stack.mesh.relay("order", number=len(stack.mesh.relays) + 1)
    try:
        yield process
    finally:
        await process.terminate()


async def test_sse_follower_sees_pending_then_confirmed(stack: Stack, relay: RelayProcess) -> None:
    customer, product = await stack.customer(), await stack.product(stock=5)
    order = await stack.place(customer, product, 2)
    statuses: list[str] = []
    versions: list[int] = []
    async with stack.http.stream(
        "GET", f"/orders/{order['orderId']}:watch", headers=stack.admin | {"Accept": "text/event-stream"}
    ) as stream:
        assert stream.status_code == 200, await stream.aread()
        assert stream.headers["content-type"].startswith("text/event-stream")
        async for event, data in sse_events(stream):
            assert event == "message", (event, data)
            assert data["order"]["orderId"] == order["orderId"]
            statuses.append(data["order"]["status"])
            versions.append(int(data["order"]["version"]))
            if statuses == ["ORDER_STATUS_PENDING"]:
                await relay.start()  # now the saga may run
            if statuses[-1] != "ORDER_STATUS_PENDING":
                break
    assert statuses == ["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED"]
    assert versions == sorted(versions) and len(set(versions)) == 2


async def test_ndjson_follower_sees_pending_then_confirmed(stack: Stack, relay: RelayProcess) -> None:
    customer, product = await stack.customer(), await stack.product(stock=5)
    order = await stack.place(customer, product, 1)
    lines: list[dict[str, Any]] = []
    async with stack.http.stream(
        "GET", f"/orders/{order['orderId']}:watch", headers=stack.admin | {"Accept": "application/x-ndjson"}
    ) as stream:
        assert stream.status_code == 200, await stream.aread()
        assert stream.headers["content-type"].startswith("application/x-ndjson")
        async for line in stream.aiter_lines():
            if not line.strip():
                continue
            lines.append(json.loads(line))
            assert "result" in lines[-1], lines[-1]
            status = lines[-1]["result"]["order"]["status"]
            if len(lines) == 1:
                assert status == "ORDER_STATUS_PENDING"
                await relay.start()
            elif status != "ORDER_STATUS_PENDING":
                break
    assert [x["result"]["order"]["status"] for x in lines][-1] == "ORDER_STATUS_CONFIRMED"
    assert {x["result"]["order"]["status"] for x in lines} == {"ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED"}


async def test_watching_an_unknown_order_is_a_plain_404(stack: Stack) -> None:
    reply = await stack.call(
        "GET",
        "/orders/0b7e7f8e-0000-4000-8000-000000000000:watch",
        headers=stack.admin | {"Accept": "text/event-stream"},
        expect=404,
    )
    assert status_body(reply)["code"] == 5


async def test_event_source_may_pass_the_token_as_a_query_parameter(stack: Stack, relay: RelayProcess) -> None:
    await relay.start()
    customer, product = await stack.customer(), await stack.product(stock=5)
    order = await stack.place(customer, product, 1)
    token = stack.mesh.token(customer, "customer")
    async with stack.http.stream(
        "GET",
        f"/orders/{order['orderId']}:watch",
        params={"access_token": token},
        headers={"Accept": "text/event-stream"},
    ) as stream:
        assert stream.status_code == 200, await stream.aread()
        async for _event, data in sse_events(stream):
            assert data["order"]["orderId"] == order["orderId"]
            break
