"""Header forwarding, deadlines, response metadata, PATCH masks, CORS and gzip."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import grpc
import httpx
import pytest

from oms.inventory.v1 import inventory_pb2
from tests.unit.gateway.conftest import Recorder, token


async def test_authorization_and_prefixed_metadata_are_forwarded(client: httpx.AsyncClient, recorder: Recorder) -> None:
    bearer = f"Bearer {token('c-5', ('customer',))}"
    headers = {
        "authorization": bearer,
        "grpc-metadata-tenant": "acme",
        "grpc-metadata-trace-bin": "AAEC",
        "idempotency-key": "key-1",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    assert (await client.post("/orders", json={}, headers=headers)).status_code == 200
    metadata = recorder.last("PlaceOrder").metadata
    assert metadata["authorization"] == bearer
    assert metadata["tenant"] == "acme"
    assert metadata["trace-bin"] == b"\x00\x01\x02"
    assert metadata["idempotency-key"] == "key-1"
    assert str(metadata["traceparent"]).startswith("00-0af765")


async def test_reserved_metadata_keys_cannot_be_injected(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/o-1", headers={"grpc-metadata-grpc-timeout": "1S"})
    assert response.status_code == 400


async def test_request_id_is_generated_forwarded_and_echoed(client: httpx.AsyncClient, recorder: Recorder) -> None:
    response = await client.get("/orders/o-1")
    generated = response.headers["x-request-id"]
    assert len(generated) >= 16
    assert recorder.last("GetOrder").metadata["x-request-id"] == generated
    mine = f"req-{uuid.uuid4()}"
    response = await client.get("/orders/o-2", headers={"x-request-id": mine})
    assert response.headers["x-request-id"] == mine
    assert recorder.last("GetOrder").metadata["x-request-id"] == mine
    assert (await client.get("/nowhere")).headers["x-request-id"], "errors carry it too"


async def test_x_forwarded_for_gets_the_client_appended(client: httpx.AsyncClient, recorder: Recorder) -> None:
    await client.get("/orders/o-1", headers={"x-forwarded-for": "203.0.113.7"})
    assert recorder.last("GetOrder").metadata["x-forwarded-for"] == "203.0.113.7, 10.1.2.3"
    await client.get("/orders/o-1")
    assert recorder.last("GetOrder").metadata["x-forwarded-for"] == "10.1.2.3"


@pytest.mark.parametrize(("header", "low", "high"), [("5S", 3.0, 5.5), ("300m", 0.05, 0.35), (None, 8.0, 10.5)])
async def test_grpc_timeout_becomes_the_deadline(
    client: httpx.AsyncClient, recorder: Recorder, header: str | None, low: float, high: float
) -> None:
    headers = {"grpc-timeout": header} if header else {}
    assert (await client.get("/orders/o-1", headers=headers)).status_code == 200
    remaining = recorder.last("GetOrder").time_remaining
    assert remaining is not None and low < remaining <= high, remaining


async def test_an_invalid_grpc_timeout_is_400(client: httpx.AsyncClient, recorder: Recorder) -> None:
    response = await client.get("/orders/o-1", headers={"grpc-timeout": "soon"})
    assert response.status_code == 400
    assert "Grpc-Timeout" in response.json()["message"]
    assert not recorder.calls


async def test_an_expired_deadline_is_504(client: httpx.AsyncClient, recorder: Recorder) -> None:
    async def slow(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await asyncio.Event().wait()  # never answers: only the deadline ends the call

    recorder.behaviors["GetOrder"] = slow
    response = await client.get("/orders/o-1", headers={"grpc-timeout": "50m"})
    assert response.status_code == 504
    assert response.json()["code"] == 4


async def test_upstream_metadata_comes_back_as_headers(client: httpx.AsyncClient, recorder: Recorder) -> None:
    async def answer(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.send_initial_metadata((("x-served-by", "inv-1"),))
        context.set_trailing_metadata((("x-stock-version", "7"),))
        return inventory_pb2.GetStockResponse(stock=inventory_pb2.Stock(product_id=request.product_id, quantity=3))

    recorder.behaviors["GetStock"] = answer
    response = await client.get("/products/p-1/stock")
    assert response.headers["grpc-metadata-x-served-by"] == "inv-1"
    assert response.headers["grpc-trailer-x-stock-version"] == "7"
    assert response.json()["stock"]["productId"] == "p-1"
    assert response.json()["stock"]["quantity"] == "3", "int64 is a string in proto3 JSON"
    assert response.json()["stock"]["reserved"] == "0", "zero values are emitted"


async def test_patch_fills_the_update_mask_from_the_body(client: httpx.AsyncClient, recorder: Recorder) -> None:
    response = await client.patch("/customers/c-1", json={"name": "Ada", "phone": "+4930123456"})
    assert response.status_code == 200, response.text
    request = recorder.last("UpdateCustomer").request
    assert list(request.update_mask.paths) == ["name", "phone"]
    assert request.customer.customer_id == "c-1"
    await client.patch("/products/p-1", json={"name": "x", "availableQuantity": "3", "price": {"units": "2"}})
    assert list(recorder.last("UpdateProduct").request.update_mask.paths) == [
        "available_quantity",
        "name",
        "price.units",
    ], "leaf paths, as grpc-gateway"


async def test_patch_keeps_a_mask_the_client_sent(client: httpx.AsyncClient, recorder: Recorder) -> None:
    await client.patch("/customers/c-1?updateMask=email", json={"name": "Ada", "email": "a@example.com"})
    assert list(recorder.last("UpdateCustomer").request.update_mask.paths) == ["email"]


async def test_cors_preflight_is_answered_for_allowed_origins(client: httpx.AsyncClient, recorder: Recorder) -> None:
    preflight = {
        "origin": "https://shop.example",
        "access-control-request-method": "PATCH",
        "access-control-request-headers": "authorization, grpc-metadata-tenant",
    }
    response = await client.options("/orders/o-1", headers=preflight)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert "PATCH" in response.headers["access-control-allow-methods"]
    assert "grpc-metadata-tenant" in response.headers["access-control-allow-headers"]
    denied = await client.options("/orders/o-1", headers={**preflight, "origin": "https://evil.example"})
    assert denied.status_code == 400
    simple = await client.get("/orders/o-1", headers={"origin": "https://shop.example"})
    assert simple.headers["access-control-allow-origin"] == "https://shop.example"
    assert len(recorder.calls) == 1, "preflights never reach the upstream"


async def test_large_responses_are_gzipped(client: httpx.AsyncClient, recorder: Recorder) -> None:
    async def many(request: Any, context: grpc.aio.ServicerContext) -> Any:
        return inventory_pb2.ListProductsResponse(
            products=[inventory_pb2.Product(product_id=f"p-{i}", name="widget") for i in range(200)]
        )

    recorder.behaviors["ListProducts"] = many
    response = await client.get("/products", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert len(response.json()["products"]) == 200


async def test_a_zero_grpc_timeout_is_400_not_an_expired_deadline(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    response = await client.get("/orders/o-1", headers={"grpc-timeout": "0H"})
    assert response.status_code == 400
    assert "Grpc-Timeout" in response.json()["message"]
    assert not recorder.calls


async def test_trace_context_gRPC_cannot_carry_is_ignored_as_w3c_says(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    response = await client.get("/orders/o-1", headers={"tracestate": "Tq,m\t-", "traceparent": "00-\x01"})
    assert response.status_code == 200
    sent = recorder.last("GetOrder").metadata
    assert "tracestate" not in sent or "\t" not in sent["tracestate"]


@pytest.mark.parametrize("header", ["idempotency-key", "grpc-metadata-x-note"])
async def test_a_header_value_grpc_cannot_carry_is_400(
    client: httpx.AsyncClient, recorder: Recorder, header: str
) -> None:
    response = await client.get("/orders/o-1", headers={header: "a\tb\x7f"})
    assert response.status_code == 400
    assert not recorder.calls
