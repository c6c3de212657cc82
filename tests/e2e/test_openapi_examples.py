"""Every example of the gateway's OpenAPI document, sent as it stands to the real gateway on the
demo data, is a valid request: never a 400 (nor a 5xx). What Swagger UI pre-fills works."""

from __future__ import annotations

import re
from typing import Any

from gateway.openapi_examples import DEMO_CUSTOMER, DEMO_PRODUCT, DEMO_PRODUCT_2
from inventory_svc.seed_catalog import CATALOG
from testkit.processes import Mesh
from tests.e2e.gateway_support import Stack, running_stack

DEMO_CUSTOMER_NAME, DEMO_CUSTOMER_EMAIL = "Ada Lovelace", "ada@example.com"


async def seed_demo_data(stack: Stack) -> None:
    """The part of `make run`'s demo data the examples name (scripts/run and inventory_svc.seed)."""
    for product_id, name, description, cents, units in CATALOG:
        if product_id in (DEMO_PRODUCT, DEMO_PRODUCT_2):
            price = {"currencyCode": "EUR", "units": str(cents // 100), "nanos": (cents % 100) * 10_000_000}
            product = {"productId": product_id, "name": name, "description": description, "price": price}
            await stack.call("POST", "/products", body=product | {"active": True})
            await stack.call("POST", "/api/inventory/add", body={"productId": product_id, "quantity": str(units)})
    customer = {"customerId": DEMO_CUSTOMER, "name": DEMO_CUSTOMER_NAME, "email": DEMO_CUSTOMER_EMAIL}
    await stack.call("POST", "/customers", body=customer)


def request_of(path: str, operation: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, str], Any]:
    """(path, query, headers, body) of the operation's example, as a client generated from it sends."""
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    for parameter in operation["parameters"]:
        if "example" not in parameter:
            continue
        value = parameter["example"]
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", str(value))
        elif parameter["in"] == "query":
            query[parameter["name"]] = value
        elif parameter["in"] == "header":
            headers[parameter["name"]] = str(value)
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
    assert not re.search(r"\{[^}]+\}", path), f"{path}: a path parameter without an example"
    return path, query, headers, body


async def test_every_example_is_accepted_by_the_running_gateway(mesh: Mesh) -> None:
    async with running_stack(mesh) as stack:
        await seed_demo_data(stack)
        document = (await stack.call("GET", "/openapi.json")).json()
        refused, answered = {}, {}
        for template, item in sorted(document["paths"].items()):
            for verb, operation in item.items():
                path, query, headers, body = request_of(template, operation)
                headers |= stack.admin  # the admin may call every operation
                if operation["responses"]["200"].get("content", {}).get("text/event-stream"):
                    async with stack.http.stream(verb.upper(), path, params=query, headers=headers) as reply:
                        status, text = reply.status_code, ""
                else:
                    reply = await stack.http.request(verb.upper(), path, params=query, headers=headers, json=body)
                    status, text = reply.status_code, reply.text
                answered[operation["operationId"]] = status
                if status == 400 or status >= 500:
                    refused[f"{verb.upper()} {path}"] = f"{status} {text[:300]}"
        assert refused == {}
        # The examples meet the demo data: what names a demo product or customer succeeds.
        for op_id in ("OrderService_PlaceOrder", "InventoryService_GetProduct", "CustomerService_GetCustomer"):
            assert answered[op_id] == 200, answered
