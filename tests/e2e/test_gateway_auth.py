"""Authentication and authorization, through the gateway and on each service's own gRPC port.

The same bad tokens and the same role rules must hold on both paths: the gateway is not the
only door (docs/gateway.md, "Authentication").
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from mesh.auth.minting import mint_token
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.notify.v1 import notify_pb2, notify_pb2_grpc
from oms.order.v1 import customer_pb2, customer_pb2_grpc, order_pb2, order_pb2_grpc
from testkit.infra import Infra
from testkit.processes import new_mesh
from tests.e2e.gateway_support import Stack, running_stack, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unsigned(subject: str) -> str:
    """``alg: none`` with admin claims and an empty signature."""
    now = int(time.time())
    claims = {"sub": subject, "roles": ["admin"], "aud": "oms", "iss": "oms-local", "iat": now, "exp": now + 600}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _escalated(subject: str) -> str:
    """A real customer token whose payload was rewritten to claim admin; signature kept."""
    header, payload, signature = mint_token(subject, ["customer"]).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    return f"{header}.{_b64(claims)}.{signature}"


BAD_TOKENS: dict[str, Callable[[], str | None]] = {
    "missing": lambda: None,
    "not a jwt": lambda: "Bearer not-a-jwt",
    "expired": lambda: "Bearer " + mint_token("admin-1", ["admin"], now=time.time() - 7200, ttl_s=3600),
    "wrong audience": lambda: "Bearer " + mint_token("admin-1", ["admin"], extra_claims={"aud": "someone-else"}),
    "wrong issuer": lambda: "Bearer " + mint_token("admin-1", ["admin"], extra_claims={"iss": "evil"}),
    "alg none": lambda: "Bearer " + _unsigned("admin-1"),
    "tampered payload": lambda: "Bearer " + _escalated("c-mallory"),
    "foreign secret": lambda: "Bearer " + mint_token("admin-1", ["admin"], key="x" * 48),
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("gateway-auth")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def channels(stack: Stack) -> AsyncIterator[dict[str, grpc.aio.Channel]]:
    opened = {name: grpc.aio.insecure_channel(stack.service(name).address) for name in ("order", "inventory", "notify")}
    try:
        yield opened
    finally:
        for channel in opened.values():
            await channel.close()


def metadata(authorization: str | None) -> tuple[tuple[str, str], ...]:
    return (("authorization", authorization),) if authorization else ()


# One read per service, called directly: (service, how to call it with the given metadata).
GrpcCall = Callable[[dict[str, grpc.aio.Channel], tuple[tuple[str, str], ...]], Awaitable[Any]]
READS: dict[str, GrpcCall] = {
    "order": lambda ch, md: order_pb2_grpc.OrderServiceStub(ch["order"]).ListOrders(
        order_pb2.ListOrdersRequest(), metadata=md, timeout=10
    ),
    "inventory": lambda ch, md: inventory_pb2_grpc.InventoryServiceStub(ch["inventory"]).ListProducts(
        inventory_pb2.ListProductsRequest(), metadata=md, timeout=10
    ),
    "notify": lambda ch, md: notify_pb2_grpc.NotificationServiceStub(ch["notify"]).ListNotifications(
        notify_pb2.ListNotificationsRequest(), metadata=md, timeout=10
    ),
}
HTTP_READS = {"order": "/orders", "inventory": "/products", "notify": "/notifications"}
PUBLIC_READS = {"inventory"}


@pytest.mark.parametrize("service", sorted(READS))
@pytest.mark.parametrize("bad", sorted(BAD_TOKENS))
async def test_bad_token_is_401_at_the_gateway_and_unauthenticated_on_the_port(
    stack: Stack, channels: dict[str, grpc.aio.Channel], bad: str, service: str
) -> None:
    authorization = BAD_TOKENS[bad]()
    if authorization is None and service in PUBLIC_READS:
        # The catalog is public (ACCESS_PUBLIC): no token is fine, a bad one is still refused.
        await stack.call("GET", HTTP_READS[service], headers={})
        await READS[service](channels, metadata(None))
        return
    reply = await stack.call(
        "GET", HTTP_READS[service], headers={"Authorization": authorization} if authorization else {}, expect=401
    )
    assert status_body(reply)["code"] == 16
    assert reply.headers["www-authenticate"].startswith("Bearer")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await READS[service](channels, metadata(authorization))
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED, raised.value.details()


async def test_a_valid_token_is_accepted_on_both_paths(stack: Stack, channels: dict[str, grpc.aio.Channel]) -> None:
    for service, path in HTTP_READS.items():
        await stack.call(
            "GET", path, headers=stack.headers("c-reader", "customer") if service == "order" else stack.admin
        )
        await READS[service](channels, stack.mesh.metadata())


# Admin-only RPCs a customer tries: (HTTP method, path, body, direct gRPC call).
def _admin_only(product_id: str) -> dict[str, tuple[str, str, dict[str, Any] | None, GrpcCall]]:
    return {
        "AddStock": (
            "POST",
            "/api/inventory/add",
            {"productId": product_id, "quantity": "5"},
            lambda ch, md: inventory_pb2_grpc.InventoryServiceStub(ch["inventory"]).AddStock(
                inventory_pb2.AddStockRequest(product_id=product_id, quantity=5), metadata=md, timeout=10
            ),
        ),
        "CreateProduct": (
            "POST",
            "/products",
            {"name": "Sneaky", "price": {"currencyCode": "EUR", "units": "1"}},
            lambda ch, md: inventory_pb2_grpc.InventoryServiceStub(ch["inventory"]).CreateProduct(
                inventory_pb2.CreateProductRequest(
                    product=inventory_pb2.Product(name="Sneaky", price={"currency_code": "EUR", "units": 1})
                ),
                metadata=md,
                timeout=10,
            ),
        ),
        "RetryNotification": (
            "POST",
            "/notifications/n-1:retry",
            {},
            lambda ch, md: notify_pb2_grpc.NotificationServiceStub(ch["notify"]).RetryNotification(
                notify_pb2.RetryNotificationRequest(notification_id="n-1"), metadata=md, timeout=10
            ),
        ),
        "ListCustomers": (
            "GET",
            "/customers",
            None,
            lambda ch, md: customer_pb2_grpc.CustomerServiceStub(ch["order"]).ListCustomers(
                customer_pb2.ListCustomersRequest(), metadata=md, timeout=10
            ),
        ),
    }


@pytest.mark.parametrize("rpc", ["AddStock", "CreateProduct", "RetryNotification", "ListCustomers"])
async def test_customer_on_an_admin_route_is_403_and_permission_denied(
    stack: Stack, channels: dict[str, grpc.aio.Channel], rpc: str
) -> None:
    product = await stack.product(stock=1)
    method, path, body, direct = _admin_only(product)[rpc]
    customer = stack.headers("c-curious", "customer")
    reply = await stack.call(method, path, body=body, headers=customer, expect=403)
    assert status_body(reply)["code"] == 7
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await direct(channels, stack.mesh.metadata("c-curious", "customer"))
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    stock = (await stack.call("GET", f"/products/{product}/stock")).json()["stock"]
    assert stock["quantity"] == "1"  # nothing changed


async def test_customers_cannot_see_or_cancel_each_others_orders(
    stack: Stack, channels: dict[str, grpc.aio.Channel]
) -> None:
    alice, mallory, product = await stack.customer(), await stack.customer(), await stack.product(stock=5)
    order = await stack.place(alice, product, headers=stack.headers(alice, "customer"))
    order_id = order["orderId"]
    as_mallory = stack.headers(mallory, "customer")

    seen = await stack.call("GET", f"/orders/{order_id}", headers=as_mallory, expect=404)
    assert status_body(seen)["code"] == 5
    cancel = await stack.call("POST", f"/orders/{order_id}:cancel", body={}, headers=as_mallory, expect=404)
    assert status_body(cancel)["code"] == 5
    watched = await stack.call(
        "GET", f"/orders/{order_id}:watch", headers=as_mallory | {"Accept": "text/event-stream"}, expect=404
    )
    assert status_body(watched)["code"] == 5
    listed = await stack.call("GET", "/orders", headers=as_mallory)
    assert order_id not in [o["orderId"] for o in listed.json()["orders"]]
    others = await stack.call("GET", "/orders", params={"customerId": alice}, headers=as_mallory, expect=403)
    assert status_body(others)["code"] == 7

    stub = order_pb2_grpc.OrderServiceStub(channels["order"])
    md = stack.mesh.metadata(mallory, "customer")
    for call in (
        stub.GetOrder(order_pb2.GetOrderRequest(order_id=order_id), metadata=md, timeout=10),
        stub.CancelOrder(order_pb2.CancelOrderRequest(order_id=order_id), metadata=md, timeout=10),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND

    # Alice still sees her order, untouched.
    mine = await stack.call("GET", f"/orders/{order_id}", headers=stack.headers(alice, "customer"))
    assert mine.json()["order"]["status"] != "ORDER_STATUS_CANCELLED"


async def test_a_customer_cannot_mark_their_own_order_paid(stack: Stack, channels: dict[str, grpc.aio.Channel]) -> None:
    alice, product = await stack.customer(), await stack.product(stock=5)
    as_alice = stack.headers(alice, "customer")
    order = await stack.place(alice, product, headers=as_alice)
    reply = await stack.call(
        "PATCH", f"/orders/{order['orderId']}", body={"status": "ORDER_STATUS_PAID"}, headers=as_alice, expect=403
    )
    assert status_body(reply)["code"] == 7
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await order_pb2_grpc.OrderServiceStub(channels["order"]).UpdateOrderStatus(
            order_pb2.UpdateOrderStatusRequest(order_id=order["orderId"], status=order_pb2.ORDER_STATUS_PAID),
            metadata=stack.mesh.metadata(alice, "customer"),
            timeout=10,
        )
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # Cancelling their own order is theirs to do.
    cancelled = await stack.call("POST", f"/orders/{order['orderId']}:cancel", body={}, headers=as_alice)
    assert cancelled.json()["order"]["status"] == "ORDER_STATUS_CANCELLED"


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs", "/metrics"])
async def test_operational_endpoints_need_no_token(stack: Stack, path: str) -> None:
    await stack.call("GET", path, headers={}, expect=200)
