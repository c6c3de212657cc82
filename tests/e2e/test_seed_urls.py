"""The URLs the seed documents show clients calling, called as they show them, through the real
gateway against the real services (the mapping is in docs/gateway.md, "The seed documents' URLs").

The seeds show paths and bodies, not answers (except seed 004's stock map), so the answers
checked are the RPCs' JSON. Every route of ``SEED_ROUTES`` must be reached here: the route walk
of test_gateway_routes.py leaves them to this test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from gateway.descriptors import discover
from gateway.settings import GatewaySettings
from testkit.infra import Infra
from testkit.processes import new_mesh
from testkit.wait import eventually
from tests.e2e.gateway_support import SEED_ROUTES, Stack, running_stack, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

ANONYMOUS: dict[str, str] = {}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("seed-urls")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


class SeedClient:
    """Calls a seed URL and records the (method, template) it stands for."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.reached: set[tuple[str, str]] = set()

    async def call(
        self, method: str, template: str, path: str, *, headers: dict[str, str], expect: int = 200, **kwargs: Any
    ) -> httpx.Response:
        reply = await self.stack.call(method, path, headers=headers, expect=None, **kwargs)
        assert reply.status_code not in (405, 501), f"{method} {path}: {reply.status_code} {reply.text}"
        assert "no route" not in reply.text, f"{method} {path} was not routed: {reply.text}"
        assert reply.status_code == expect, f"{method} {path} → {reply.status_code}: {reply.text}"
        self.reached.add((method, template))
        return reply

    async def confirmed(self, order_id: str, headers: dict[str, str]) -> dict[str, Any]:
        reply = await eventually(
            lambda: self.call("GET", "/api/orders/{order_id}", f"/api/orders/{order_id}", headers=headers),
            until=lambda r: r.json()["order"]["status"] != "ORDER_STATUS_PENDING",
            timeout_s=30,
            what=f"order {order_id} out of PENDING",
        )
        order: dict[str, Any] = reply.json()["order"]
        assert order["status"] == "ORDER_STATUS_CONFIRMED", order
        return order


async def test_the_seed_routes_are_additional_bindings_the_gateway_serves() -> None:
    served = {(b.http_method, b.template.source): b for b in discover(GatewaySettings().upstreams())}
    assert set(served) >= SEED_ROUTES, sorted(SEED_ROUTES - set(served))
    # Beside the RPC's main route, not instead of it: no second code path, one RPC each.
    assert all(served[route].index > 0 for route in SEED_ROUTES), [r for r in SEED_ROUTES if served[r].index == 0]


async def test_the_seed_documents_urls(stack: Stack) -> None:
    seed = SeedClient(stack)
    admin = stack.admin
    customer_id = await stack.customer()
    customer = stack.headers(customer_id, "customer")
    product_id = await stack.product(stock=10)
    empty_id = await stack.product(stock=0)

    # Seed 000: GET /products lists the catalog; product and stock reads are public (seed 004).
    listed = await seed.call("GET", "/products", "/products", headers=ANONYMOUS, params={"pageSize": "500"})
    assert product_id in [p["productId"] for p in listed.json()["products"]]
    api_listed = await seed.call("GET", "/api/products", "/api/products", headers=ANONYMOUS, params={"pageSize": 500})
    assert api_listed.json() == listed.json()
    one = await seed.call("GET", "/products/{product_id}", f"/products/{product_id}", headers=ANONYMOUS)
    api_one = await seed.call("GET", "/api/products/{product_id}", f"/api/products/{product_id}", headers=ANONYMOUS)
    assert one.json() == api_one.json() and one.json()["product"]["availableQuantity"] == "10"
    stock = await seed.call("GET", "/api/inventory/{product_id}", f"/api/inventory/{product_id}", headers=ANONYMOUS)
    assert (stock.json()["stock"]["productId"], stock.json()["stock"]["available"]) == (product_id, "10")

    # Seed 004: POST /api/inventory/check, a bare list of ids → a bare map of id to available units.
    # "System only": a service's token (the cart or order service), not a shopper's.
    service = stack.headers("cart-svc", "service")
    ids = [product_id, empty_id]
    checked = await seed.call("POST", "/api/inventory/check", "/api/inventory/check", headers=service, body=ids)
    assert checked.json() == {product_id: "10", empty_id: "0"}  # int64 values: JSON strings
    as_shopper = await stack.call("POST", "/api/inventory/check", headers=customer, body=ids, expect=403)
    assert status_body(as_shopper)["code"] == 7
    anonymous = await stack.call("POST", "/api/inventory/check", headers=ANONYMOUS, body=ids, expect=401)
    assert status_body(anonymous)["code"] == 16
    # Seed 004's admin routes.
    added = await seed.call(
        "POST", "/api/inventory/add", "/api/inventory/add", headers=admin, body={"productId": empty_id, "quantity": "5"}
    )
    audited = await seed.call(
        "POST",
        "/api/inventory/audit",
        "/api/inventory/audit",
        headers=admin,
        body={"productId": empty_id, "quantity": "4", "expectedVersion": added.json()["stock"]["version"]},
    )
    assert audited.json()["stock"]["quantity"] == "4"

    # Seed 003: POST /api/orders as the signed-in customer; the order starts PENDING.
    line = {"productId": product_id, "quantity": 2}
    placed = await seed.call(
        "POST", "/api/orders", "/api/orders", headers=customer, body={"customerId": customer_id, "items": [line]}
    )
    paid_id = placed.json()["order"]["orderId"]
    assert placed.json()["order"]["status"] == "ORDER_STATUS_PENDING"
    await seed.confirmed(paid_id, customer)
    # "Admin sends PUT /api/orders/1/status with PAID": the status as its plain word.
    shopper_paying = await stack.call(
        "PUT", f"/api/orders/{paid_id}/status", headers=customer, body={"status": "PAID"}, expect=403
    )
    assert status_body(shopper_paying)["code"] == 7  # PAID is admin-only, as on every route of the RPC
    paid = await seed.call(
        "PUT", "/api/orders/{order_id}/status", f"/api/orders/{paid_id}/status", headers=admin, body={"status": "PAID"}
    )
    assert paid.json()["order"]["status"] == "ORDER_STATUS_PAID"
    mine = await seed.call("GET", "/api/orders", "/api/orders", headers=customer, params={"status": "PAID"})
    assert [o["orderId"] for o in mine.json()["orders"]] == [paid_id]
    # The notification service tells the customer ("Your payment is received!").
    notes = await eventually(
        lambda: seed.call("GET", "/api/notifications", "/api/notifications", headers=customer),
        until=lambda r: any(n["subject"].startswith("Payment received") for n in r.json()["notifications"]),
        timeout_s=30,
        what="the payment notification",
    )
    assert {n["customerId"] for n in notes.json()["notifications"]} == {customer_id}

    # Seed 000: POST /orders, GET /orders/{orderId}, PATCH /orders/{orderId} (the status).
    placed = await seed.call(
        "POST", "/orders", "/orders", headers=customer, body={"customerId": customer_id, "items": [line]}
    )
    patched_id = placed.json()["order"]["orderId"]
    got = await seed.call("GET", "/orders/{order_id}", f"/orders/{patched_id}", headers=customer)
    assert got.json()["order"]["items"][0]["productId"] == product_id
    await seed.confirmed(patched_id, customer)
    patched = await seed.call(
        "PATCH", "/orders/{order_id}", f"/orders/{patched_id}", headers=admin, body={"status": "PAID"}
    )
    assert patched.json()["order"]["status"] == "ORDER_STATUS_PAID"

    # Seed 002: PUT /orders/:id/update_status (e.g. cancel) and POST /orders/:id/cancel; a
    # cancelled order's stock is restored.
    placed = await seed.call(
        "POST", "/orders", "/orders", headers=customer, body={"customerId": customer_id, "items": [line]}
    )
    updated_id = placed.json()["order"]["orderId"]
    await seed.confirmed(updated_id, customer)
    updated = await seed.call(
        "PUT",
        "/orders/{order_id}/update_status",
        f"/orders/{updated_id}/update_status",
        headers=customer,
        body={"status": "CANCELLED", "reason": "changed my mind"},
    )
    assert updated.json()["order"]["status"] == "ORDER_STATUS_CANCELLED"
    assert updated.json()["order"]["statusReason"] == "changed my mind"
    placed = await seed.call(
        "POST", "/orders", "/orders", headers=customer, body={"customerId": customer_id, "items": [line]}
    )
    cancelled_id = placed.json()["order"]["orderId"]
    await seed.confirmed(cancelled_id, customer)  # holding stock, so the cancel must release it
    cancelled = await seed.call(
        "POST", "/orders/{order_id}/cancel", f"/orders/{cancelled_id}/cancel", headers=customer, body={}
    )
    assert cancelled.json()["order"]["status"] == "ORDER_STATUS_CANCELLED"
    # The two paid orders hold 2 units each; the two cancelled ones hold nothing once inventory
    # has consumed their cancellations (asynchronous compensation).
    await eventually(
        lambda: stack.call("GET", f"/api/inventory/{product_id}", headers=ANONYMOUS),
        until=lambda r: r.json()["stock"]["reserved"] == "4",
        timeout_s=30,
        what="the cancelled orders' stock restored",
    )

    assert not SEED_ROUTES - seed.reached, f"seed routes never called: {sorted(SEED_ROUTES - seed.reached)}"
