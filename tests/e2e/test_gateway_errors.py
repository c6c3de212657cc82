"""Errors through the whole stack: the services' google.rpc.Status, with details, as HTTP."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from testkit.infra import Infra
from testkit.processes import new_mesh
from tests.e2e.gateway_support import Stack, details_of, running_stack, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

INVALID_ARGUMENT, NOT_FOUND, ABORTED, FAILED_PRECONDITION = 3, 5, 10, 9


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("gateway-errors")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


async def test_malformed_json_is_a_400_status_that_never_reaches_a_service(stack: Stack) -> None:
    reply = await stack.http.post(
        "/orders",
        content=b'{"customerId": "c-1", "items": [',
        headers=stack.admin | {"Content-Type": "application/json"},
    )
    assert reply.status_code == 400, reply.text
    assert status_body(reply)["code"] == INVALID_ARGUMENT


async def test_unknown_field_names_the_field(stack: Stack) -> None:
    body = {"customerId": "c-1", "items": [{"productId": "p-1", "quantity": 1, "flavour": "mint"}]}
    reply = await stack.call("POST", "/orders", body=body, expect=400)
    violations = details_of(status_body(reply), "google.rpc.BadRequest")[0]["fieldViolations"]
    assert violations[0]["field"] == "items[0].flavour"


async def test_service_validation_reaches_the_client_with_field_violations(stack: Stack) -> None:
    customer, product = await stack.customer(), await stack.product(stock=5)
    body = {"customerId": customer, "items": [{"productId": product, "quantity": 0}]}
    reply = await stack.call("POST", "/orders", body=body, expect=400)
    status = status_body(reply)
    assert status["code"] == INVALID_ARGUMENT
    assert details_of(status, "google.rpc.BadRequest")[0]["fieldViolations"], status


async def test_unknown_order_is_a_404_status(stack: Stack) -> None:
    order_id = str(uuid.uuid4())
    reply = await stack.call("GET", f"/orders/{order_id}", expect=404)
    status = status_body(reply)
    assert status["code"] == NOT_FOUND and order_id in status["message"]
    assert reply.headers["x-request-id"]


async def test_illegal_transition_is_a_400_failed_precondition_naming_both_states(stack: Stack) -> None:
    customer, product = await stack.customer(), await stack.product(stock=5)
    order = await stack.place(customer, product)
    await stack.call("POST", f"/orders/{order['orderId']}:cancel", body={"reason": "test"})
    reply = await stack.call("PATCH", f"/orders/{order['orderId']}", body={"status": "ORDER_STATUS_PAID"}, expect=400)
    status = status_body(reply)
    assert status["code"] == FAILED_PRECONDITION
    assert "CANCELLED" in status["message"] and "PAID" in status["message"], status
    failures = details_of(status, "google.rpc.PreconditionFailure")
    assert failures, status
    violation = failures[0]["violations"][0]
    assert violation["type"] == "STATE" and "CANCELLED to PAID" in violation["description"], status


async def test_short_stock_precheck_is_a_400_with_the_shortfall(stack: Stack) -> None:
    customer, product = await stack.customer(), await stack.product(stock=1)
    body = {"customerId": customer, "items": [{"productId": product, "quantity": 5}]}
    reply = await stack.call("POST", "/orders", body=body, expect=400)
    status = status_body(reply)
    assert status["code"] == FAILED_PRECONDITION
    violation = details_of(status, "google.rpc.PreconditionFailure")[0]["violations"][0]
    assert violation["subject"] == f"products/{product}"
    assert "requested 5, available 1" in violation["description"]


async def test_stale_audit_version_is_a_409_and_changes_nothing(stack: Stack) -> None:
    product = await stack.product(stock=4)
    stock = (await stack.call("GET", f"/products/{product}/stock")).json()["stock"]
    stale = int(stock["version"]) - 1
    body = {"productId": product, "quantity": "9", "expectedVersion": str(stale)}
    reply = await stack.call("POST", "/api/inventory/audit", body=body, expect=409)
    assert status_body(reply)["code"] == ABORTED
    after = (await stack.call("GET", f"/api/inventory/{product}")).json()["stock"]
    assert after["quantity"] == "4" and after["version"] == stock["version"]


async def test_idempotency_key_returns_the_same_order_and_refuses_a_different_body(stack: Stack) -> None:
    customer, product = await stack.customer(), await stack.product(stock=10)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await stack.place(customer, product, 2, headers=stack.admin | key)
    again = await stack.place(customer, product, 2, headers=stack.admin | key)
    assert again["orderId"] == first["orderId"]
    listed = await stack.call("GET", "/orders", params={"customerId": customer})
    assert [o["orderId"] for o in listed.json()["orders"]] == [first["orderId"]]

    body = {"customerId": customer, "items": [{"productId": product, "quantity": 3}]}
    reply = await stack.call("POST", "/orders", body=body, headers=stack.admin | key, expect=400)
    status = status_body(reply)
    assert status["code"] == FAILED_PRECONDITION
    infos = details_of(status, "google.rpc.ErrorInfo")
    assert infos and infos[0]["reason"] == "IDEMPOTENCY_KEY_REUSED", status
