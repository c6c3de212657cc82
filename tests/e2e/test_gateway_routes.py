"""Every annotated RPC over HTTP, through the real gateway, against the real services.

The list of routes comes from the gateway's own discovery (``gateway.descriptors.discover``),
so a new annotated RPC fails the walk until a request for it is added to it.
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
from tests.e2e.gateway_support import SEED_ROUTES, Stack, details_of, running_stack, sse_events, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("gateway-routes")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


class Walk:
    """Calls routes and records which (method, template) pairs were reached."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.reached: set[tuple[str, str]] = set()

    async def call(self, method: str, template: str, path: str, *, expect: int = 200, **kwargs: Any) -> httpx.Response:
        reply = await self.stack.call(method, path, expect=None, **kwargs)
        # Reached the service: not a routing miss (404 with "no route"), not 405/501.
        assert reply.status_code not in (405, 501), f"{method} {path}: {reply.status_code} {reply.text}"
        if reply.status_code == 404:
            assert "no route" not in reply.text, f"{method} {path} was not routed: {reply.text}"
        assert reply.status_code == expect, f"{method} {path} → {reply.status_code}: {reply.text}"
        self.reached.add((method, template))
        return reply


async def test_lifecycle_over_every_route(stack: Stack) -> None:
    walk = Walk(stack)
    product_id, customer_id = f"p-walk-{id(walk):x}", f"c-walk-{id(walk):x}"

    # Catalog.
    price = {"currencyCode": "EUR", "units": "19", "nanos": 990_000_000}
    created = await walk.call(
        "POST",
        "/products",
        "/products",
        body={"productId": product_id, "name": "Walk widget", "price": price, "active": True},
    )
    assert created.json()["product"]["productId"] == product_id
    got = (await walk.call("GET", "/products/{product_id}", f"/products/{product_id}")).json()["product"]
    assert got["name"] == "Walk widget" and got["price"]["units"] == "19" and got["availableQuantity"] == "0"
    listed = await walk.call("GET", "/products", "/products", params={"nameContains": "walk widget", "pageSize": "500"})
    assert product_id in [p["productId"] for p in listed.json()["products"]]
    # PATCH with the mask filled from the body's keys: only the name changes, the price stays.
    patched = await walk.call(
        "PATCH", "/products/{product.product_id}", f"/products/{product_id}", body={"name": "Walk widget II"}
    )
    assert patched.json()["product"]["name"] == "Walk widget II"
    assert patched.json()["product"]["price"]["units"] == "19"

    # Stock.
    added = await walk.call(
        "POST", "/api/inventory/add", "/api/inventory/add", body={"productId": product_id, "quantity": "10"}
    )
    version = added.json()["stock"]["version"]
    assert added.json()["stock"]["quantity"] == "10"
    audited = await walk.call(
        "POST",
        "/api/inventory/audit",
        "/api/inventory/audit",
        body={"productId": product_id, "quantity": "12", "expectedVersion": version, "reason": "stock take"},
    )
    assert audited.json()["stock"]["quantity"] == "12"
    checked = await walk.call(
        "POST", "/products:checkStock", "/products:checkStock", body={"productIds": [product_id, "p-nope"]}
    )
    assert checked.json() == {"available": {product_id: "12"}, "unknownProductIds": ["p-nope"]}
    main = (await walk.call("GET", "/api/inventory/{product_id}", f"/api/inventory/{product_id}")).json()
    extra = (await walk.call("GET", "/products/{product_id}/stock", f"/products/{product_id}/stock")).json()
    assert main == extra and main["stock"]["available"] == "12"

    # Customers.
    body = {"customerId": customer_id, "name": "Ada", "email": f"{customer_id}@example.com"}
    await walk.call("POST", "/customers", "/customers", body=body)
    got_customer = await walk.call("GET", "/customers/{customer_id}", f"/customers/{customer_id}")
    assert got_customer.json()["customer"]["email"] == f"{customer_id}@example.com"
    updated = await walk.call(
        "PATCH",
        "/customers/{customer.customer_id}",
        f"/customers/{customer_id}",
        body={"phone": "+4930123456"},
    )
    assert updated.json()["customer"]["phone"] == "+4930123456"
    assert updated.json()["customer"]["name"] == "Ada"  # not in the mask, so unchanged
    customers = await walk.call("GET", "/customers", "/customers", params={"pageSize": "500"})
    assert customer_id in [c["customerId"] for c in customers.json()["customers"]]

    # Orders.
    placed = await walk.call(
        "POST",
        "/orders",
        "/orders",
        body={"customerId": customer_id, "items": [{"productId": product_id, "quantity": 2}]},
    )
    order = placed.json()["order"]
    order_id = order["orderId"]
    assert order["status"] == "ORDER_STATUS_PENDING" and order["total"]["units"] == "39"
    got_order = await walk.call("GET", "/orders/{order_id}", f"/orders/{order_id}")
    assert got_order.json()["order"]["orderId"] == order_id
    mine = await walk.call("GET", "/orders", "/orders", params={"customerId": customer_id})
    assert [o["orderId"] for o in mine.json()["orders"]] == [order_id]

    # Watch until CONFIRMED (the stream ends with the first message read here when it already is).
    async with stack.http.stream(
        "GET", f"/orders/{order_id}:watch", headers=stack.admin | {"Accept": "text/event-stream"}
    ) as stream:
        assert stream.status_code == 200, await stream.aread()
        assert stream.headers["content-type"].startswith("text/event-stream")
        seen = []
        async for event, data in sse_events(stream):
            assert event == "message", data
            seen.append(data["order"]["status"])
            if seen[-1] == "ORDER_STATUS_CONFIRMED":
                break
    assert seen[-1] == "ORDER_STATUS_CONFIRMED", seen
    walk.reached.add(("GET", "/orders/{order_id}:watch"))

    paid = await walk.call(
        "PATCH", "/orders/{order_id}", f"/orders/{order_id}", body={"status": "ORDER_STATUS_PAID", "reason": "card"}
    )
    assert paid.json()["order"]["status"] == "ORDER_STATUS_PAID"
    cancelled = await walk.call(
        "POST", "/orders/{order_id}:cancel", f"/orders/{order_id}:cancel", body={"reason": "changed my mind"}
    )
    assert cancelled.json()["order"]["status"] == "ORDER_STATUS_CANCELLED"
    assert (await stack.order(order_id))["statusReason"] == "changed my mind"

    # Notifications: every step mails the customer; notify records it from the order events.
    notes = await eventually(
        lambda: walk.call("GET", "/notifications", "/notifications", params={"orderId": order_id}),
        until=lambda r: len(r.json()["notifications"]) >= 1,
        timeout_s=30,
        what="a notification about the order",
    )
    note = notes.json()["notifications"][0]
    assert note["orderId"] == order_id and note["recipient"] == f"{customer_id}@example.com"
    # Retrying a notification that has not FAILED is refused; an unknown one is missing.
    not_failed = await walk.call(
        "POST",
        "/notifications/{notification_id}:retry",
        f"/notifications/{note['notificationId']}:retry",
        body={},
        expect=400,
    )
    assert status_body(not_failed)["code"] == 9  # FAILED_PRECONDITION
    unknown = await walk.call(
        "POST",
        "/notifications/{notification_id}:retry",
        "/notifications/00000000-0000-0000-0000-000000000000:retry",
        body={},
        expect=404,
    )
    assert status_body(unknown)["code"] == 5

    # Many products in one call (the placement's batched look-up), public.
    ids = {"productIds": [product_id, "p-walk-none"]}
    batch = await walk.call("GET", "/products:batchGet", "/products:batchGet", params=ids, headers={})
    assert [p["productId"] for p in batch.json()["products"]] == [product_id]
    assert batch.json()["missingProductIds"] == ["p-walk-none"]

    # Delete: the only order holding the product is cancelled, so it may go once inventory has
    # consumed the cancellation and released the reservation (asynchronous compensation).
    await eventually(
        lambda: stack.call("GET", f"/api/inventory/{product_id}"),
        until=lambda r: r.json()["stock"]["reserved"] == "0",
        timeout_s=30,
        what="the cancelled order's reservation released",
    )
    await walk.call("DELETE", "/products/{product_id}", f"/products/{product_id}")
    gone = await stack.call("GET", f"/products/{product_id}", expect=404)
    assert status_body(gone)["code"] == 5

    # The operator routes of each service (admin only): nothing is dead-lettered or parked here,
    # so the listings are empty and naming a position that does not exist changes nothing.
    for service in ("order", "inventory", "notify"):
        base = f"/admin/{service}"
        letters = await walk.call("GET", f"{base}/dead-letters", f"{base}/dead-letters")
        assert letters.json()["deadLetters"] == []
        await walk.call(
            "GET",
            f"{base}/dead-letters/{{topic}}/{{partition}}/{{offset}}",
            f"{base}/dead-letters/nowhere.dlq/0/0",
            expect=404,
        )
        replay = {"deadLetters": [{"topic": "nowhere.dlq", "partition": 0, "offset": "0"}]}
        replayed = await walk.call("POST", f"{base}/dead-letters:replay", f"{base}/dead-letters:replay", body=replay)
        assert replayed.json()["results"][0]["replayed"] is False
        parked = await walk.call("GET", f"{base}/parked-events", f"{base}/parked-events")
        assert parked.json()["parkedEvents"] == []
        republish = {"outboxIds": ["999999999"]}
        route = f"{base}/parked-events:republish"
        back = await walk.call("POST", route, route, body=republish)
        assert back.json()["outboxIds"] == []

    # Webhooks (admin): register an endpoint (its secret shown once), list, disable, enable, delete;
    # deliveries are listed and an unknown one cannot be retried. test_webhooks_and_sms.py follows
    # events to a real receiver.
    hooks = "/admin/webhooks"
    registered = await walk.call("POST", hooks, hooks, body={"endpoint": {"url": "http://127.0.0.1:9/walk"}})
    endpoint_id = registered.json()["endpoint"]["endpointId"]
    assert registered.json()["secret"].startswith("whsec_")
    listed = await walk.call("GET", hooks, hooks)
    assert [e["endpointId"] for e in listed.json()["endpoints"]] == [endpoint_id]
    assert "secret" not in listed.text
    one = f"{hooks}/{endpoint_id}"
    off = await walk.call("POST", f"{hooks}/{{endpoint_id}}:disable", f"{one}:disable", body={})
    assert off.json()["endpoint"]["disabled"] is True
    on = await walk.call("POST", f"{hooks}/{{endpoint_id}}:enable", f"{one}:enable", body={})
    assert on.json()["endpoint"].get("disabled", False) is False
    await walk.call("DELETE", f"{hooks}/{{endpoint_id}}", one)
    insecure = await stack.call("POST", hooks, body={"endpoint": {"url": "http://hooks.example.com/"}}, expect=400)
    assert [v["field"] for v in details_of(status_body(insecure), "google.rpc.BadRequest")[0]["fieldViolations"]] == [
        "endpoint.url"
    ]
    sent = await walk.call(
        "GET", "/admin/webhook-deliveries", "/admin/webhook-deliveries", params={"orderId": order_id}
    )
    assert sent.json().get("deliveries", []) == []  # no endpoint was registered while the order moved
    retry_route = "/admin/webhook-deliveries/{delivery_id}:retry"
    unknown_delivery = "/admin/webhook-deliveries/00000000-0000-4000-8000-000000000000:retry"
    await walk.call("POST", retry_route, unknown_delivery, body={}, expect=404)

    # Every (method, path template) the gateway serves was reached, and nothing else (the seed
    # documents' spellings are called as the seeds show them, by test_seed_urls.py).
    served = {(b.http_method, b.template.source) for b in discover(GatewaySettings().upstreams())}
    assert served, "the gateway discovered no routes"
    assert served >= SEED_ROUTES, f"seed routes not served: {sorted(SEED_ROUTES - served)}"
    unreached = served - walk.reached - SEED_ROUTES
    assert not unreached, f"routes the walk never reached: {sorted(unreached)}"
    assert not walk.reached - served, f"walked routes the gateway does not serve: {sorted(walk.reached - served)}"


async def test_openapi_lists_every_served_route(stack: Stack) -> None:
    reply = await stack.call("GET", "/openapi.json", headers={})
    document = reply.json()
    served = {(b.http_method.lower(), b.template.openapi_path) for b in discover(GatewaySettings().upstreams())}
    documented = {
        (m, p) for p, ops in document["paths"].items() for m in ops if m in ("get", "post", "patch", "delete", "put")
    }
    assert served == documented


async def test_unrouted_paths_and_methods(stack: Stack) -> None:
    missing = await stack.call("GET", "/nothing/here", expect=404)
    assert status_body(missing)["code"] == 5
    wrong_method = await stack.call("PUT", "/orders", body={}, expect=405)
    assert set(wrong_method.headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    assert not details_of(status_body(wrong_method), "google.rpc.BadRequest")
