"""Every annotated RPC is reachable with its documented method and path."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor, descriptor_pool

from gateway.descriptors import import_generated
from gateway.routing import parse_template
from tests.unit.gateway.conftest import Recorder


def annotated_routes() -> Iterator[tuple[str, str, str, str]]:
    """(http method, path template, grpc method path, upstream) straight from the descriptors."""
    for module in import_generated("oms"):
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                rule = method.GetOptions().Extensions[annotations_pb2.http]
                for each in [rule, *rule.additional_bindings]:
                    kind = each.WhichOneof("pattern")
                    yield (
                        kind.upper(),
                        getattr(each, kind),
                        f"/{service.full_name}/{method.name}",
                        service.file.package.split(".")[1],
                    )


ROUTES = sorted(set(annotated_routes()))


def empty_body(grpc_path: str, verb: str, template: str) -> object:
    """``{}``, or ``[]`` where the binding's ``body`` names a repeated field (the JSON body is then
    that field's value: seed 004's ``POST /api/inventory/check``)."""
    service_name, method_name = grpc_path.strip("/").split("/")
    method = descriptor_pool.Default().FindServiceByName(service_name).methods_by_name[method_name]
    rule = method.GetOptions().Extensions[annotations_pb2.http]
    for each in [rule, *rule.additional_bindings]:
        kind = each.WhichOneof("pattern")
        if (kind.upper(), getattr(each, kind)) == (verb, template) and each.body not in ("", "*"):
            return [] if method.input_type.fields_by_name[each.body].is_repeated else {}
    return {}


_INTEGERS = {
    descriptor.FieldDescriptor.CPPTYPE_INT32,
    descriptor.FieldDescriptor.CPPTYPE_INT64,
    descriptor.FieldDescriptor.CPPTYPE_UINT32,
    descriptor.FieldDescriptor.CPPTYPE_UINT64,
}


def test_the_contracts_have_the_routes_we_document() -> None:
    assert len(ROUTES) >= 22  # 21 RPCs, GetStock twice
    assert ("POST", "/orders/{order_id}:cancel", "/oms.order.v1.OrderService/CancelOrder", "order") in ROUTES
    assert ("GET", "/products/{product_id}/stock", "/oms.inventory.v1.InventoryService/GetStock", "inventory") in ROUTES


def field_value(message: object, dotted: str) -> object:
    for part in dotted.split("."):
        message = getattr(message, part)
    return message


@pytest.mark.parametrize(("verb", "template", "grpc_path", "upstream"), ROUTES)
async def test_every_annotated_route_reaches_its_rpc(
    client: httpx.AsyncClient, recorder: Recorder, verb: str, template: str, grpc_path: str, upstream: str
) -> None:
    values: dict[str, object] = {}
    service_name, method_name = grpc_path.strip("/").split("/")
    request_type = descriptor_pool.Default().FindServiceByName(service_name).methods_by_name[method_name].input_type

    def fill(found: re.Match[str]) -> str:
        field = request_type.fields_by_name.get(found.group(1).split(".")[0])
        if field is not None and field.cpp_type in _INTEGERS:  # e.g. a dead letter's partition
            values[found.group(1)] = uuid.uuid4().int % 1000
        else:
            values[found.group(1)] = f"id-{uuid.uuid4().hex[:8]}"
        return str(values[found.group(1)])

    path = re.sub(r"\{([^}=]+)\}", fill, template)
    if "WatchOrder" in grpc_path:
        response = await client.get(path, headers={"accept": "application/x-ndjson"})
    else:
        body = empty_body(grpc_path, verb, template) if verb in ("POST", "PATCH", "PUT") else None
        response = await client.request(verb, path, json=body)
    assert response.status_code == 200, response.text
    call = recorder.calls[-1]
    assert (call.method, call.upstream) == (grpc_path, upstream)
    for field_path, value in values.items():
        assert field_value(call.request, field_path) == value


@pytest.mark.parametrize(
    ("verb", "path", "method", "field", "value"),
    [
        ("POST", "/orders/o-17:cancel", "CancelOrder", "order_id", "o-17"),
        ("GET", "/orders/o-17", "GetOrder", "order_id", "o-17"),
        ("GET", "/api/inventory/p-9", "GetStock", "product_id", "p-9"),
        ("GET", "/products/p-9/stock", "GetStock", "product_id", "p-9"),
        ("GET", "/products/p-9", "GetProduct", "product_id", "p-9"),
        ("POST", "/products:checkStock", "CheckStock", None, None),
        ("PUT", "/orders/o-17/update_status", "UpdateOrderStatus", "order_id", "o-17"),
        ("PUT", "/api/orders/o-17/status", "UpdateOrderStatus", "order_id", "o-17"),
        ("POST", "/orders/o-17/cancel", "CancelOrder", "order_id", "o-17"),
        ("GET", "/api/orders/o-17", "GetOrder", "order_id", "o-17"),
        ("GET", "/api/products/p-9", "GetProduct", "product_id", "p-9"),
        ("GET", "/api/inventory/check", "GetStock", "product_id", "check"),
        ("POST", "/notifications/n-1:retry", "RetryNotification", "notification_id", "n-1"),
        ("GET", "/orders/a%20b%2Fc", "GetOrder", "order_id", "a b/c"),
        ("GET", "/orders/x:y", "GetOrder", "order_id", "x:y"),
    ],
)
async def test_well_known_routes(
    client: httpx.AsyncClient, recorder: Recorder, verb: str, path: str, method: str, field: str | None, value: str
) -> None:
    response = await client.request(verb, path, json={} if verb in ("POST", "PUT") else None)
    assert response.status_code == 200, response.text
    call = recorder.last(method)
    if field:
        assert getattr(call.request, field) == value


async def test_unknown_paths_are_404_and_wrong_methods_405(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nope/1")
    assert missing.status_code == 404
    assert missing.json()["code"] == 5
    wrong = await client.put("/orders/o-1", json={})
    assert wrong.status_code == 405
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH"}  # HEAD: every GET route answers it


async def test_query_parameters_fill_the_remaining_fields(client: httpx.AsyncClient, recorder: Recorder) -> None:
    response = await client.get(
        "/orders", params={"pageSize": "5", "customer_id": "c-1", "status": "ORDER_STATUS_PAID", "pageToken": "t"}
    )
    assert response.status_code == 200, response.text
    request = recorder.last("ListOrders").request
    assert (request.page_size, request.customer_id, request.status, request.page_token) == (5, "c-1", 4, "t")
    await client.get("/orders", params={"status": "2"})
    assert recorder.last("ListOrders").request.status == 2


async def test_batch_get_takes_repeated_query_parameters(client: httpx.AsyncClient, recorder: Recorder) -> None:
    # The custom-verb path must not be taken for GET /products/{product_id}.
    response = await client.get("/products:batchGet", params=[("product_ids", "a"), ("productIds", "b")])
    assert response.status_code == 200, response.text
    assert list(recorder.last("BatchGetProducts").request.product_ids) == ["a", "b"]


async def test_optional_fields_keep_presence(client: httpx.AsyncClient, recorder: Recorder) -> None:
    await client.get("/products", params={"active": "false"})
    assert recorder.last("ListProducts").request.HasField("active")
    await client.get("/products")
    assert not recorder.last("ListProducts").request.HasField("active")


async def test_a_named_body_fills_that_field_and_the_path_wins(client: httpx.AsyncClient, recorder: Recorder) -> None:
    response = await client.post("/customers", json={"name": "Ada", "email": "ada@example.com"})
    assert response.status_code == 200, response.text
    assert recorder.last("CreateCustomer").request.customer.name == "Ada"
    await client.patch("/customers/c-path", json={"customerId": "c-body", "name": "B"})
    assert recorder.last("UpdateCustomer").request.customer.customer_id == "c-path"


async def test_a_body_star_route_takes_json_in_both_name_styles(client: httpx.AsyncClient, recorder: Recorder) -> None:
    body = {"customer_id": "c-1", "items": [{"productId": "p-1", "quantity": 2}]}
    assert (await client.post("/orders", json=body)).status_code == 200
    request = recorder.last("PlaceOrder").request
    assert (request.customer_id, request.items[0].product_id, request.items[0].quantity) == ("c-1", "p-1", 2)


def test_templates_with_patterns_verbs_and_wildcards() -> None:
    template = parse_template("/v1/{name=shelves/*/books/*}:publish")
    assert template.verb == "publish"
    assert template.openapi_path == "/v1/{name}:publish"
    assert template.pattern.match("/v1/shelves/s1/books/b2")
    assert not template.pattern.match("/v1/shelves/s1")
    assert parse_template("/files/{path=**}").pattern.match("/files/a/b/c")
