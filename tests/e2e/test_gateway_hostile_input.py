"""Hostile input through the whole stack (real services, PostgreSQL, Kafka): 400s naming the
field, nothing written, and the saga still confirming orders afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio

from testkit.infra import Infra
from testkit.processes import new_mesh
from testkit.wait import eventually
from tests.e2e.gateway_support import Stack, details_of, running_stack, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

INVALID_ARGUMENT = 3


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("gateway-hostile")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


def violations(reply: object) -> list[str]:
    body = status_body(reply)  # type: ignore[arg-type]
    assert body["code"] == INVALID_ARGUMENT, body
    assert len(body["message"]) < 400, "an error never echoes the input at length"
    return [v["field"] for d in details_of(body, "google.rpc.BadRequest") for v in d["fieldViolations"]]


@pytest.mark.parametrize("path", ["/orders/{}", "/products/{}", "/customers/{}", "/products/{}/stock"])
async def test_a_ten_thousand_character_id_is_a_400_naming_it(stack: Stack, path: str) -> None:
    reply = await stack.call("GET", path.format("x" * 10_000), expect=400)
    assert violations(reply) in (["order_id"], ["product_id"], ["customer_id"])


async def test_an_oversized_cancel_reason_is_refused_and_the_order_is_untouched(stack: Stack) -> None:
    customer, product = await stack.customer(), await stack.product(stock=5)
    order = await stack.place(customer, product)
    reply = await stack.call("POST", f"/orders/{order['orderId']}:cancel", body={"reason": "r" * 500_001}, expect=400)
    assert violations(reply) == ["reason"]
    settled = await eventually(
        lambda: stack.order(order["orderId"]),
        until=lambda o: o["status"] == "ORDER_STATUS_CONFIRMED",
        timeout_s=30,
        what="the order confirmed",
    )
    assert settled["statusReason"] == ""
    # The saga goes on: a cancel with a legitimate reason works and releases the stock.
    await stack.call("POST", f"/orders/{order['orderId']}:cancel", body={"reason": "r" * 500})


async def test_oversized_and_malformed_customer_fields_are_named(stack: Stack) -> None:
    body = {"name": "n" * 201, "email": "a" * 300 + "@example.com", "phone": "+4930123456"}
    reply = await stack.call("POST", "/customers", body=body, expect=400)
    assert sorted(violations(reply)) == ["customer.email", "customer.name"]
    reply = await stack.call("POST", "/customers", body={"name": "Ada", "email": "ada @example.com"}, expect=400)
    assert violations(reply) == ["customer.email"]


async def test_too_many_lines_and_out_of_range_stock_are_refused(stack: Stack) -> None:
    customer, product = await stack.customer(), await stack.product(stock=1)
    lines = [{"productId": product, "quantity": 1}] * 101
    reply = await stack.call("POST", "/orders", body={"customerId": customer, "items": lines}, expect=400)
    assert violations(reply) == ["items"]
    reply = await stack.call(
        "POST", "/api/inventory/add", body={"productId": product, "quantity": str(2**62)}, expect=400
    )
    assert violations(reply) == ["quantity"]
    stock = (await stack.call("GET", f"/products/{product}/stock")).json()["stock"]
    assert stock["quantity"] == "1"


async def test_unknown_enum_values_and_deep_json_are_400s(stack: Stack) -> None:
    for status in ("99", "BOGUS"):
        reply = await stack.call("GET", "/orders", params={"status": status}, expect=400)
        assert violations(reply) == ["status"]
    deep = b"[" * 100_000 + b"]" * 100_000
    reply = await stack.http.post("/orders", content=deep, headers=stack.admin | {"Content-Type": "application/json"})
    assert reply.status_code == 400 and status_body(reply)["code"] == INVALID_ARGUMENT


async def test_bytes_that_are_not_protobuf_are_invalid_argument_on_every_service(stack: Stack) -> None:
    methods = {
        "order": "/oms.order.v1.OrderService/GetOrder",
        "inventory": "/oms.inventory.v1.InventoryService/GetProduct",
        "notify": "/oms.notify.v1.NotificationService/ListNotifications",
    }
    for name, method in methods.items():
        async with grpc.aio.insecure_channel(stack.service(name).address) as channel:
            call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call(b"\xff\xff\xff", metadata=stack.mesh.metadata(), timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name


async def test_orders_are_still_confirmed_after_the_attack(stack: Stack) -> None:
    customer, product = await stack.customer(), await stack.product(stock=2)
    order = await stack.place(customer, product)
    await eventually(
        lambda: stack.order(order["orderId"]),
        until=lambda o: o["status"] == "ORDER_STATUS_CONFIRMED",
        timeout_s=30,
        what="a new order confirmed",
    )
