"""The OpenAPI document declares the headers the gateway reads, and its examples are valid
requests on the demo data (so Swagger UI's "Try it out" works on a `make run` mesh)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from jsonschema import Draft4Validator  # type: ignore[import-untyped]

from gateway import openapi_examples
from gateway.headers import _FORWARDED_AS_IS
from inventory_svc.seed_catalog import CATALOG
from testkit.infra import ROOT


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json", headers={"authorization": ""})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft4Validator:
    # OpenAPI 3.0 schemas are JSON Schema draft 4 with extras (readOnly, example) the validator
    # ignores; the components ride along so "#/components/schemas/..." resolves.
    return Draft4Validator({**schema, "components": document["components"]})


def test_the_examples_use_the_demo_data() -> None:
    products = {product_id for product_id, *_ in CATALOG}
    assert {openapi_examples.DEMO_PRODUCT, openapi_examples.DEMO_PRODUCT_2} <= products
    demo_customers = re.search(r"DEMO_CUSTOMERS=\((.*?)\)", (ROOT / "scripts" / "run").read_text())
    assert demo_customers is not None and f'"{openapi_examples.DEMO_CUSTOMER}|' in demo_customers[1]


async def test_every_header_the_gateway_reads_is_declared(document: dict[str, Any]) -> None:
    read = {name for name in _FORWARDED_AS_IS if name != "authorization"} | {"grpc-timeout"}  # auth: bearerAuth
    for op_id, op in operations(document).items():
        declared = {p["name"].lower() for p in op["parameters"] if p["in"] == "header"}
        expected = read if op_id.startswith("OrderService_PlaceOrder") else read - {"idempotency-key"}
        assert declared == expected, op_id
    place = next(p for p in operations(document)["OrderService_PlaceOrder"]["parameters"] if p["in"] == "header")
    assert place["name"] == "Idempotency-Key" and place["schema"]["maxLength"] == 128


async def test_every_operation_with_input_has_an_example(document: dict[str, Any]) -> None:
    missing = []
    for op_id, op in operations(document).items():
        if "requestBody" in op and "example" not in op["requestBody"]["content"]["application/json"]:
            missing.append(f"{op_id}: body")
        missing += [f"{op_id}: {p['name']}" for p in op["parameters"] if p["in"] == "path" and "example" not in p]
    assert missing == []


async def test_every_example_is_valid_against_its_schema(document: dict[str, Any]) -> None:
    invalid = {}
    for op_id, op in operations(document).items():
        for parameter in op["parameters"]:
            if "example" in parameter:
                errors = [e.message for e in validator(document, parameter["schema"]).iter_errors(parameter["example"])]
                if errors:
                    invalid[f"{op_id} {parameter['name']}"] = errors
        if "requestBody" in op:
            content = op["requestBody"]["content"]["application/json"]
            errors = [e.message for e in validator(document, content["schema"]).iter_errors(content["example"])]
            if errors:
                invalid[f"{op_id} body"] = errors
    assert invalid == {}


def test_every_example_names_a_real_method_and_its_parameters(document: dict[str, Any]) -> None:
    from gateway.descriptors import discover
    from gateway.settings import GatewaySettings

    methods = {b.method.descriptor.full_name: b for b in discover(GatewaySettings().upstreams())}
    assert set(openapi_examples.EXAMPLES) - set(methods) == set()
    for name, example in openapi_examples.EXAMPLES.items():
        fields = {f.name for f in methods[name].method.descriptor.input_type.fields}
        for given in (*example.path, *example.query):
            assert given.split(".")[0] in fields, f"{name}: {given}"
