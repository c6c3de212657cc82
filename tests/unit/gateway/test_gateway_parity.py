"""Behaviour where grpc-gateway v2 is the reference: PATCH masks of leaf paths, NDJSON error
framing, unpopulated fields in error details, client-worded 400s, HEAD on GET routes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2

from gateway.app import create_app
from gateway.transcoding import body_leaf_paths
from oms.inventory.v1 import inventory_pb2
from tests.unit.gateway.conftest import AUTH, Recorder, Upstream, rich_abort_metadata, serve, settings_for, token
from tests.unit.gateway.test_gateway_streaming import watch

# --- 1. PATCH without a mask: the mask names the body's leaves (FieldMaskFromRequestBody) ----


def test_leaf_paths_descend_into_messages_and_stop_at_timestamps() -> None:
    body = {"price": {"currencyCode": "EUR", "units": "5"}, "createTime": "2026-01-01T00:00:00Z", "active": False}
    paths = body_leaf_paths(body, inventory_pb2.Product.DESCRIPTOR)
    assert sorted(paths) == ["active", "create_time", "price.currency_code", "price.units"]


def test_an_empty_object_or_null_is_the_field_itself() -> None:
    assert body_leaf_paths({"price": {}}, inventory_pb2.Product.DESCRIPTOR) == ["price"]
    assert body_leaf_paths({"price": None}, inventory_pb2.Product.DESCRIPTOR) == ["price"]


def test_repeated_and_map_fields_are_leaves() -> None:
    info = {"reason": "X", "metadata": {"a": "1", "b": "2"}}
    assert sorted(body_leaf_paths(info, error_details_pb2.ErrorInfo.DESCRIPTOR)) == ["metadata", "reason"]
    violations = {"fieldViolations": [{"field": "a", "description": "b"}]}
    assert body_leaf_paths(violations, error_details_pb2.BadRequest.DESCRIPTOR) == ["field_violations"]


def test_a_struct_is_followed_along_its_json_keys() -> None:
    value = {"structValue": {"colour": {"hue": 1}, "size": 2}}
    paths = body_leaf_paths(value, struct_pb2.Value.DESCRIPTOR)
    assert sorted(paths) == ["struct_value.colour.hue", "struct_value.size"]


async def test_patch_of_a_nested_part_names_only_that_part(client: httpx.AsyncClient, recorder: Recorder) -> None:
    response = await client.patch("/products/p-1", json={"price": {"units": "5"}})
    assert response.status_code == 200, response.text
    request = recorder.last("UpdateProduct").request
    assert list(request.update_mask.paths) == ["price.units"]
    assert request.product.product_id == "p-1"


async def test_patch_of_a_flat_message_names_its_fields(client: httpx.AsyncClient, recorder: Recorder) -> None:
    await client.patch("/customers/c-1", json={"email": "a@example.com", "name": "Ada"})
    assert list(recorder.last("UpdateCustomer").request.update_mask.paths) == ["email", "name"]


# --- 2. NDJSON: an error before the first message is one {"error": Status} line -------------

NDJSON = {"accept": "application/x-ndjson"}


def ndjson_lines(response: httpx.Response) -> list[Any]:
    assert response.headers["content-type"].startswith("application/x-ndjson"), response.headers
    assert response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


async def test_an_upstream_error_before_any_message_is_framed(client: httpx.AsyncClient, recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(0, then=grpc.StatusCode.NOT_FOUND)
    response = await client.get("/orders/o-missing:watch", headers=NDJSON)
    assert response.status_code == 404, "the HTTP status is still the error's (as grpc-gateway)"
    assert ndjson_lines(response) == [{"error": {"code": 5, "message": "order went away", "details": []}}]


async def test_a_refused_token_on_an_ndjson_stream_is_framed(client: httpx.AsyncClient) -> None:
    client.headers.pop("authorization")
    response = await client.get("/orders/o-1:watch", headers=NDJSON)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    [line] = ndjson_lines(response)
    assert line["error"]["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]


async def test_too_many_ndjson_streams_is_framed_with_retry_after(
    upstreams: dict[str, Upstream], recorder: Recorder
) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, forever=True)
    app = create_app(settings_for(upstreams, max_streams_per_principal=1), AUTH)
    headers = {"authorization": f"Bearer {token('c-1', ('customer',))}", **NDJSON}
    async with (
        app.lifespan(),
        serve(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        http.stream("GET", "/orders/o-1:watch", headers=headers) as held,
    ):
        assert held.status_code == 200
        first = await asyncio.wait_for(anext(held.aiter_lines()), 5)
        assert json.loads(first)["result"]["order"]["version"] == "1"
        refused = await http.get("/orders/o-1:watch", headers=headers)
    assert refused.status_code == 429 and refused.headers["retry-after"]
    [line] = ndjson_lines(refused)
    assert line["error"]["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]


async def test_a_bad_request_to_a_stream_stays_a_plain_status(client: httpx.AsyncClient) -> None:
    """As grpc-gateway: a request that cannot be built never becomes a stream."""
    response = await client.get("/orders/o-1:watch", headers={**NDJSON, "grpc-timeout": "soon"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == 3


async def test_sse_errors_before_any_message_are_unchanged(client: httpx.AsyncClient, recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(0, then=grpc.StatusCode.NOT_FOUND)
    response = await client.get("/orders/o-missing:watch", headers={"accept": "text/event-stream"})
    assert response.status_code == 404
    assert response.json() == {"code": 5, "message": "order went away", "details": []}


# --- 3. Error details print unpopulated fields like every message ---------------------------


def _fail_with_details(recorder: Recorder) -> None:
    details = [error_details_pb2.ErrorInfo(reason="OUT_OF_STOCK")]

    async def fail(request: Any, context: grpc.aio.ServicerContext) -> Any:
        metadata = rich_abort_metadata(grpc.StatusCode.FAILED_PRECONDITION, "no stock", details)
        await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no stock", trailing_metadata=metadata)

    recorder.behaviors["GetOrder"] = fail


async def test_error_details_emit_unpopulated_fields(client: httpx.AsyncClient, recorder: Recorder) -> None:
    _fail_with_details(recorder)
    [detail] = (await client.get("/orders/o-1")).json()["details"]
    assert detail == {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "OUT_OF_STOCK",
        "domain": "",
        "metadata": {},
    }


async def test_error_details_follow_the_setting_when_off(upstreams: dict[str, Upstream], recorder: Recorder) -> None:
    _fail_with_details(recorder)
    app = create_app(settings_for(upstreams, emit_unpopulated=False), AUTH)
    transport = httpx.ASGITransport(app=app)
    headers = {"authorization": f"Bearer {token()}"}
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://gw", headers=headers) as http:
        [detail] = (await http.get("/orders/o-1")).json()["details"]
        gateway_own = (await http.post("/orders", json={"colour": "red"})).json()["details"]
    assert detail == {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "OUT_OF_STOCK"}
    assert gateway_own == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": "colour", "description": "unknown field"}],
        }
    ]


# --- 4. The gateway's 400s: one path syntax (AIP-193), words for a client --------------------


def violation_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    [detail] = [d for d in response.json()["details"] if d["@type"].endswith("BadRequest")]
    [violation] = detail["fieldViolations"]
    return {"field": violation["field"], "description": violation["description"]}


@pytest.mark.parametrize(
    ("body", "field", "description"),
    [
        ({"items": [{"productId": "p", "quantity": "many"}]}, "items[0].quantity", "must be an integer"),
        ({"items": [{"productId": "p"}, {"quantity": 1.5}]}, "items[1].quantity", "must be an integer"),
        (
            {"items": [{"quantity": 2**31}]},
            "items[0].quantity",
            "must be an integer from -2147483648 to 2147483647",
        ),
        ({"items": [{"productId": "p", "flavour": 1}]}, "items[0].flavour", "unknown field"),
        ({"customerId": 5}, "customer_id", "must be a string"),
        ({"customerId": ["c"]}, "customer_id", "must be a string"),
        ({"items": {"productId": "p"}}, "items", "must be an array"),
        ({"items": ["p"]}, "items[0]", "must be an object"),
    ],
)
async def test_body_errors_name_the_field_one_way_in_client_words(
    client: httpx.AsyncClient, body: Any, field: str, description: str
) -> None:
    response = await client.post("/orders", json=body)
    assert violation_of(response) == {"field": field, "description": description}
    message = response.json()["message"]
    assert field in message and description in message
    assert "int()" not in message and "literal" not in message and "Failed to parse" not in message


async def test_nested_wkt_and_bool_errors_in_client_words(client: httpx.AsyncClient) -> None:
    response = await client.post("/products", json={"name": "n", "active": "yes"})
    assert violation_of(response) == {"field": "product.active", "description": "must be true or false"}
    response = await client.post("/products", json={"name": "n", "createTime": "yesterday"})
    assert violation_of(response)["field"] == "product.create_time"
    assert "RFC 3339" in violation_of(response)["description"]


async def test_enum_errors_list_a_few_names(client: httpx.AsyncClient) -> None:
    for body in ({"status": "LOST"}, {"status": 99}):
        found = violation_of(await client.patch("/orders/o-1", json=body))
        assert found["field"] == "status"
        assert found["description"].startswith("must be one of ORDER_STATUS_UNSPECIFIED, ORDER_STATUS_PENDING, ")
        assert found["description"].endswith(" more"), "at most a few names"
    found = violation_of(await client.get("/orders", params={"status": "LOST"}))
    assert found["field"] == "status" and found["description"].startswith("must be one of ORDER_STATUS_")


@pytest.mark.parametrize(
    ("params", "field", "description"),
    [
        ({"pageSize": "ten"}, "page_size", "must be an integer"),
        ({"pageSize": "99999999999"}, "page_size", "must be an integer from -2147483648 to 2147483647"),
    ],
)
async def test_query_errors_in_client_words(
    client: httpx.AsyncClient, params: dict[str, str], field: str, description: str
) -> None:
    assert violation_of(await client.get("/orders", params=params)) == {"field": field, "description": description}


async def test_malformed_json_says_where_not_how_python_failed(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders", content=b'{"customerId": ', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"] == "malformed JSON body at line 1, column 16"


# --- 5. HEAD on GET routes -------------------------------------------------------------------


async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient, recorder: Recorder) -> None:
    got = await client.get("/orders/o-1")
    head = await client.head("/orders/o-1")
    assert head.status_code == got.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"] == "application/json"
    assert head.headers["content-length"] == str(len(got.content))
    assert recorder.last("GetOrder").request.order_id == "o-1"


async def test_head_of_a_missing_resource_is_its_error_status(client: httpx.AsyncClient, recorder: Recorder) -> None:
    async def missing(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")

    recorder.behaviors["GetOrder"] = missing
    head = await client.head("/orders/o-2")
    assert head.status_code == 404 and head.content == b""
    assert head.headers["content-length"] == str(len((await client.get("/orders/o-2")).content))


async def test_head_on_a_route_without_get_is_405_and_get_lists_head(client: httpx.AsyncClient) -> None:
    refused = await client.head("/admin/order/parked-events:republish")
    assert refused.status_code == 405
    assert refused.headers["allow"] == "POST"
    assert "HEAD" in (await client.delete("/orders")).headers["allow"].split(", ")


async def test_head_of_a_stream_releases_its_upstream_call(served: str, recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, forever=True)
    async with httpx.AsyncClient(base_url=served, headers={"authorization": f"Bearer {token()}"}) as http:
        head = await http.head("/orders/o-1:watch")
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-type"].startswith("text/event-stream")
    await asyncio.wait_for(recorder.cancelled.wait(), 5)


async def test_the_openapi_document_shows_the_ndjson_error_line(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    watch = document["paths"]["/orders/{order_id}:watch"]["get"]["responses"]
    line = watch["default"]["content"]["application/x-ndjson"]["schema"]
    assert line == {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"$ref": "#/components/schemas/google.rpc.Status"}},
    }
    unary = document["paths"]["/orders/{order_id}"]["get"]["responses"]["default"]["content"]
    assert set(unary) == {"application/json"}
