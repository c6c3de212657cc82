"""Where grpc-gateway v2 is the reference, through the real gateway against the real services:
a PATCH's mask of leaf paths, NDJSON framing of an error before the first message, HEAD."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from testkit.infra import Infra
from testkit.processes import new_mesh
from tests.e2e.gateway_support import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("gateway-parity")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


async def test_patch_of_price_units_keeps_currency_and_cents(stack: Stack) -> None:
    product_id = await stack.product(price_cents=1250)  # EUR 12.50
    reply = await stack.call("PATCH", f"/products/{product_id}", body={"price": {"units": "5"}})
    assert reply.json()["product"]["price"] == {"currencyCode": "EUR", "units": "5", "nanos": 500_000_000}
    reply = await stack.call("PATCH", f"/products/{product_id}", body={"price": {"currencyCode": "USD"}})
    assert reply.json()["product"]["price"] == {"currencyCode": "USD", "units": "5", "nanos": 500_000_000}
    stored = (await stack.call("GET", f"/products/{product_id}")).json()["product"]
    assert stored["price"] == {"currencyCode": "USD", "units": "5", "nanos": 500_000_000}
    assert stored["name"] == "Widget", "fields absent from the body are not in the mask"


async def test_ndjson_watch_of_an_unknown_order_is_one_error_line(stack: Stack) -> None:
    reply = await stack.call(
        "GET", "/orders/o-no-such-order:watch", headers=stack.admin | {"Accept": "application/x-ndjson"}, expect=404
    )
    assert reply.headers["content-type"].startswith("application/x-ndjson")
    [line] = [json.loads(text) for text in reply.text.splitlines()]
    assert set(line) == {"error"}
    assert line["error"]["code"] == 5 and "o-no-such-order" in line["error"]["message"]


async def test_ndjson_watch_results_are_framed_as_result(stack: Stack) -> None:
    customer, product = await stack.customer(), await stack.product(stock=5)
    order = await stack.place(customer, product)
    headers = stack.admin | {"Accept": "application/x-ndjson"}
    async with stack.http.stream("GET", f"/orders/{order['orderId']}:watch", headers=headers) as stream:
        assert stream.status_code == 200
        first = json.loads(await anext(stream.aiter_lines()))
    assert set(first) == {"result"} and first["result"]["order"]["orderId"] == order["orderId"]


async def test_head_answers_get_routes_without_a_body(stack: Stack) -> None:
    product_id = await stack.product()
    got = await stack.call("GET", f"/products/{product_id}", headers={})
    head = await stack.call("HEAD", f"/products/{product_id}", headers={})
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == str(len(got.content))
    missing = await stack.call("HEAD", "/products/p-no-such-product", headers={}, expect=404)
    assert missing.content == b""
    refused = await stack.call("HEAD", "/admin/order/parked-events:republish", expect=405)
    assert refused.headers["allow"] == "POST"
