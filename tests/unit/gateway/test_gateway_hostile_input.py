"""Hostile HTTP input is a 400 google.rpc.Status naming what is wrong, and never reaches a service."""

from __future__ import annotations

import json

import httpx
import pytest
from google.rpc import error_details_pb2

from gateway.transcoding import MAX_JSON_DEPTH, nested_deeper_than
from mesh.serving.bounds import MAX_REQUEST_BYTES
from tests.unit.gateway.conftest import Recorder

DEEP = 100_000


def violations(response: httpx.Response) -> list[tuple[str, str]]:
    for detail in response.json()["details"]:
        if detail["@type"].endswith(error_details_pb2.BadRequest.DESCRIPTOR.full_name):
            return [(v["field"], v["description"]) for v in detail["fieldViolations"]]
    return []


def assert_invalid_argument(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3
    assert len(response.text) < 1000, "an error never echoes the input at length"


@pytest.mark.parametrize(
    "content",
    [
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
        b"[" * DEEP,  # unbalanced as well as deep
        b'{"items": ' + b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1) + b"}",
    ],
)
async def test_deeply_nested_json_is_400_not_a_recursion_error(
    client: httpx.AsyncClient, recorder: Recorder, content: bytes
) -> None:
    response = await client.post("/orders", content=content, headers={"content-type": "application/json"})
    assert_invalid_argument(response)
    assert "nested deeper than 64 levels" in response.json()["message"]
    assert not recorder.calls


async def test_legitimate_bodies_are_shallow_and_pass(client: httpx.AsyncClient, recorder: Recorder) -> None:
    body = b'{"items": [{"productId": "p", "quantity": 1}], "customerId": "c"}'
    assert (await client.post("/orders", content=body, headers={"content-type": "application/json"})).status_code == 200
    assert recorder.last("PlaceOrder").request.items[0].quantity == 1


@pytest.mark.parametrize(("depth", "too_deep"), [(MAX_JSON_DEPTH, False), (MAX_JSON_DEPTH + 1, True)])
def test_the_depth_limit_is_exact(depth: int, too_deep: bool) -> None:
    document = json.loads(b"[" * (depth - 1) + b"{}" + b"]" * (depth - 1))
    assert nested_deeper_than(document, MAX_JSON_DEPTH) is too_deep
    assert nested_deeper_than(document, depth) is False


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/orders", {"items": [{"productId": "p", "quantity": 1.5}]}, "items[0].quantity"),
        ("/orders", {"items": [{"productId": "p", "quantity": "x" * 5000}]}, "items[0].quantity"),
        ("/orders", {"items": {"productId": "p"}}, "items"),
        ("/orders", {"items": [{"quantity": 2**31}]}, "items[0].quantity"),
        ("/orders", {"customerId": {"a": 1}}, "customer_id"),
        ("/products", {"name": "n", "price": {"currencyCode": "EUR", "units": str(2**64)}}, "product.price.units"),
        ("/products", {"name": "n", "price": {"currencyCode": "EUR", "units": 1e30}}, "product.price.units"),
        ("/orders/o-1", {"status": 99}, "status"),
        ("/orders/o-1", {"status": 2.5}, "status"),
        ("/orders/o-1", {"status": "BOGUS"}, "status"),
    ],
)
async def test_wrong_json_types_name_the_field(
    client: httpx.AsyncClient, recorder: Recorder, path: str, body: object, field: str
) -> None:
    method = client.patch if path.startswith("/orders/") else client.post
    response = await method(path, json=body)
    assert_invalid_argument(response)
    assert [name for name, _ in violations(response)] == [field]
    assert not recorder.calls


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "99"}, "status"),
        ({"status": "BOGUS"}, "status"),
        ({"status": "-1"}, "status"),
        ({"status": "9" * 5000}, "status"),
        ({"pageSize": "9" * 5000}, "page_size"),
    ],
)
async def test_unknown_enum_values_and_huge_numbers_in_the_query_are_400(
    client: httpx.AsyncClient, recorder: Recorder, params: dict[str, str], field: str
) -> None:
    response = await client.get("/orders", params=params)
    assert_invalid_argument(response)
    assert [name for name, _ in violations(response)] == [field]
    assert not recorder.calls


async def test_a_known_enum_number_in_the_query_is_accepted(client: httpx.AsyncClient, recorder: Recorder) -> None:
    assert (await client.get("/orders", params={"status": "2"})).status_code == 200
    assert recorder.last("ListOrders").request.status == 2


async def test_an_unknown_parameter_name_is_not_echoed_in_full(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders", params={"x" * 5000: "1"})
    assert_invalid_argument(response)


async def test_a_body_whose_message_exceeds_the_services_receive_limit_is_400_not_429(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    # Under the body limit as JSON, over what any legitimate request encodes to.
    response = await client.post("/products", json={"name": "n", "description": "d" * (MAX_REQUEST_BYTES + 1)})
    assert_invalid_argument(response)
    assert not recorder.calls


async def test_the_gateways_own_errors_never_echo_long_input(client: httpx.AsyncClient) -> None:
    unrouted = await client.get("/nope/" + "x" * 10_000)
    assert unrouted.status_code == 404 and len(unrouted.text) < 400
    timeout = await client.get("/orders", headers={"grpc-timeout": "9" * 10_000})
    assert_invalid_argument(timeout)
    header = await client.get("/orders", headers={"grpc-metadata-" + "k" * 5000 + "!": "v"})
    assert_invalid_argument(header)
