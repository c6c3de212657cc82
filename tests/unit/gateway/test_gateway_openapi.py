"""/openapi.json is valid OpenAPI 3, complete, and documented from the .proto comments; /docs works offline."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.unit.gateway.test_gateway_routes import ROUTES


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json", headers={"authorization": ""})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    validate(document)


async def test_every_route_is_documented_with_a_unique_operation_id(document: dict[str, Any]) -> None:
    operations = {(verb.upper(), path): op for path, item in document["paths"].items() for verb, op in item.items()}
    for verb, template, _, _ in ROUTES:
        assert (verb, template) in operations, f"{verb} {template} missing"
    ids = [op["operationId"] for op in operations.values()]
    assert len(ids) == len(set(ids))
    assert operations[("POST", "/orders/{order_id}:cancel")]["operationId"] == "OrderService_CancelOrder"
    assert operations[("GET", "/products/{product_id}/stock")]["operationId"] == "InventoryService_GetStock2"


async def test_descriptions_come_from_proto_comments(document: dict[str, Any]) -> None:
    cancel = document["paths"]["/orders/{order_id}:cancel"]["post"]
    assert cancel["description"].startswith("Cancels a PENDING, CONFIRMED or PAID order")
    order = document["components"]["schemas"]["oms.order.v1.Order"]
    assert order["properties"]["statusReason"]["description"].startswith("Why the order is in its status")
    assert "Places orders" in {t["name"]: t["description"] for t in document["tags"]}["OrderService"]
    status = document["components"]["schemas"]["oms.order.v1.OrderStatus"]
    assert "ORDER_STATUS_PAID" in status["enum"] and "Paid by the customer." in status["description"]


async def test_schemas_follow_the_proto3_json_mapping(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    order = schemas["oms.order.v1.Order"]["properties"]
    assert order["createTime"]["type"] == "string" and order["createTime"]["format"] == "date-time"
    assert order["createTime"]["readOnly"] is True
    assert order["version"] == {**order["version"], "type": "string", "format": "int64"}
    assert order["items"]["type"] == "array"
    assert order["total"]["allOf"] == [{"$ref": "#/components/schemas/google.type.Money"}]
    assert "google.type.Money" in schemas
    available = schemas["oms.inventory.v1.CheckStockResponse"]["properties"]["available"]
    assert available["type"] == "object" and available["additionalProperties"]["format"] == "int64"
    update = document["paths"]["/customers/{customer.customer_id}"]["patch"]
    mask = next(p for p in update["parameters"] if p["name"] == "update_mask")
    assert (mask["in"], mask["schema"]["type"]) == ("query", "string")
    assert schemas["oms.order.v1.PlaceOrderRequest"]["required"] == ["customerId", "items"]


async def test_parameters_bodies_errors_and_security(document: dict[str, Any]) -> None:
    list_orders = document["paths"]["/orders"]["get"]
    query = {p["name"]: p for p in list_orders["parameters"] if p["in"] == "query"}
    assert set(query) == {"page_size", "page_token", "customer_id", "status"}
    assert query["status"]["schema"] == {"$ref": "#/components/schemas/oms.order.v1.OrderStatus"}
    update = document["paths"]["/customers/{customer.customer_id}"]["patch"]
    assert [p["name"] for p in update["parameters"] if p["in"] == "path"] == ["customer.customer_id"]
    assert update["requestBody"]["content"]["application/json"]["schema"]["allOf"][0]["$ref"].endswith("Customer")
    assert list_orders["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/google.rpc.Status"
    }
    watch = document["paths"]["/orders/{order_id}:watch"]["get"]["responses"]["200"]["content"]
    assert set(watch) == {"text/event-stream", "application/x-ndjson"}
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["security"] == [{"bearerAuth": []}]


async def test_swagger_ui_is_served_without_a_network(client: httpx.AsyncClient) -> None:
    anonymous = {"authorization": ""}
    page = await client.get("/docs", headers=anonymous)
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assert "/openapi.json" in page.text and "cdn" not in page.text.lower()
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-standalone-preset.js"):
        response = await client.get(f"/docs/static/{asset}", headers=anonymous)
        assert response.status_code == 200, asset


async def test_the_declared_bounds_are_in_the_schemas_and_parameters(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    place = schemas["oms.order.v1.PlaceOrderRequest"]["properties"]
    assert (place["items"]["maxItems"], place["items"]["minItems"]) == (100, 1)
    assert place["customerId"]["maxLength"] == 128
    line = schemas["oms.order.v1.OrderLine"]["properties"]
    assert (line["quantity"]["minimum"], line["quantity"]["maximum"]) == (1, 1000)
    assert (line["productId"]["minLength"], line["productId"]["maxLength"]) == (1, 128)
    email = schemas["oms.order.v1.Customer"]["properties"]["email"]
    assert (email["maxLength"], email["format"]) == (254, "email")
    assert schemas["google.type.Money"]["properties"]["currencyCode"]["maxLength"] == 3
    check = document["paths"]["/api/inventory/check"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    ids = schemas[check["$ref"].rsplit("/", 1)[-1]]["properties"]["productIds"] if "$ref" in check else check
    assert (ids["maxItems"], ids["items"]["maxLength"]) == (500, 128)
    listing = {p["name"]: p for p in document["paths"]["/orders"]["get"]["parameters"]}
    assert (listing["page_size"]["schema"]["minimum"], listing["page_size"]["schema"]["maximum"]) == (0, 2**31 - 1)
    assert listing["page_token"]["schema"]["maxLength"] == 1024
    get = {p["name"]: p for p in document["paths"]["/orders/{order_id}"]["get"]["parameters"]}
    assert get["order_id"]["schema"]["maxLength"] == 128
    # Output-only fields carry no request bounds.
    assert "maxLength" not in schemas["oms.order.v1.Order"]["properties"]["statusReason"]


async def test_the_seed_forms_are_documented_as_they_are_served(document: dict[str, Any]) -> None:
    check = document["paths"]["/api/inventory/check"]["post"]
    assert check["operationId"] == "InventoryService_CheckStock2"
    body = check["requestBody"]["content"]["application/json"]["schema"]
    assert body["type"] == "array" and body["items"]["type"] == "string"  # a bare list of ids
    answer = check["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer["type"] == "object" and answer["additionalProperties"]["format"] == "int64"  # a bare map
    status = document["paths"]["/api/orders/{order_id}/status"]["put"]
    assert status["operationId"] == "OrderService_UpdateOrderStatus3"
    assert document["paths"]["/orders/{order_id}/update_status"]["put"]["operationId"] == (
        "OrderService_UpdateOrderStatus2"
    )
    assert document["paths"]["/orders/{order_id}/cancel"]["post"]["operationId"] == "OrderService_CancelOrder2"
    # Public catalog reads under /api need no token either.
    assert {} in document["paths"]["/api/products"]["get"]["security"]
