"""The saga with payment, across the real processes behind the gateway: placed → reserved →
paid → shipped (captured); declined → cancelled with the reason, stock released, mailed; a paid
order cancelled → refunded; no payment method → waits CONFIRMED, PAID by hand; and kill -9 of
payment_svc between the provider's answer and its commit → the order is paid, charged once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from testkit.infra import Infra
from testkit.processes import new_mesh
from testkit.wait import eventually
from tests.e2e.gateway_support import Stack, running_stack
from tests.integration.payment_svc.support import authorizations

pytestmark = pytest.mark.e2e


@pytest.fixture
async def stack(infra: Infra, tmp_path: Any) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, tmp_path)
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


def ledger(stack: Stack) -> str:
    return stack.service("payment").env["OMS_PAYMENT_SIMULATED_LEDGER"]


async def place(stack: Stack, customer: str, product: str, method: str, quantity: int = 2) -> str:
    body = {"customerId": customer, "items": [{"productId": product, "quantity": quantity}], "paymentMethod": method}
    reply = await stack.call("POST", "/orders", body=body, headers=stack.headers(customer, "customer"))
    order_id: str = reply.json()["order"]["orderId"]
    return order_id


async def order_becomes(stack: Stack, order_id: str, status: str, timeout_s: float = 60) -> dict[str, Any]:
    return await eventually(
        lambda: stack.order(order_id), until=lambda o: o["status"] == status, timeout_s=timeout_s, what=status
    )


async def payment_becomes(stack: Stack, order_id: str, status: str) -> dict[str, Any]:
    async def payment() -> dict[str, Any]:
        reply = await stack.call("GET", f"/payments/{order_id}", expect=None)
        return reply.json().get("payment", {}) if reply.status_code == 200 else {}

    return await eventually(payment, until=lambda p: p.get("status") == status, timeout_s=60, what=status)


async def mail_subjects(stack: Stack, order_id: str, at_least: int) -> list[str]:
    mails = await eventually(
        lambda: asyncio.sleep(0, stack.smtp.sink.mails_for(order_id)),
        until=lambda m: len(m) >= at_least,
        timeout_s=30,
        what=f"{at_least} mails about {order_id}",
    )
    return sorted(m.subject for m in mails)


async def test_a_card_order_is_paid_then_captured_when_it_ships(stack: Stack) -> None:
    product, customer = await stack.product(stock=5, price_cents=1250), await stack.customer()
    order_id = await place(stack, customer, product, "tok_visa")

    await order_becomes(stack, order_id, "ORDER_STATUS_PAID")
    payment = await payment_becomes(stack, order_id, "PAYMENT_STATUS_AUTHORIZED")
    assert payment["amount"] == {"currencyCode": "EUR", "units": "25", "nanos": 0}
    await stack.call("PATCH", f"/orders/{order_id}", body={"status": "ORDER_STATUS_SHIPPED"})
    await payment_becomes(stack, order_id, "PAYMENT_STATUS_CAPTURED")

    assert len(authorizations(ledger(stack), order_id)) == 1
    subjects = await mail_subjects(stack, order_id, 4)
    assert f"Payment received for your order {order_id}" in subjects
    assert subjects.count(f"Payment received for your order {order_id}") == 1


async def test_a_declined_card_cancels_with_the_reason_releases_the_stock_and_mails_it(stack: Stack) -> None:
    product, customer = await stack.product(stock=5), await stack.customer()
    order_id = await place(stack, customer, product, "tok_chargeDeclined")

    order = await order_becomes(stack, order_id, "ORDER_STATUS_CANCELLED")
    assert order["statusReason"] == "payment failed: Your card was declined."
    await payment_becomes(stack, order_id, "PAYMENT_STATUS_FAILED")
    await eventually(
        lambda: stack.call("GET", f"/api/inventory/{product}"),
        until=lambda r: r.json()["stock"]["reserved"] == "0",
        timeout_s=30,
        what="the declined order's stock released",
    )
    assert f"Payment failed for your order {order_id}" in await mail_subjects(stack, order_id, 3)


async def test_cancelling_a_paid_order_refunds_it_and_the_customer_is_told(stack: Stack) -> None:
    product, customer = await stack.product(stock=5), await stack.customer()
    order_id = await place(stack, customer, product, "tok_visa")
    await order_becomes(stack, order_id, "ORDER_STATUS_PAID")

    await stack.call(
        "POST",
        f"/orders/{order_id}:cancel",
        body={"reason": "changed my mind"},
        headers=stack.headers(customer, "customer"),
    )

    payment = await payment_becomes(stack, order_id, "PAYMENT_STATUS_REFUNDED")
    assert payment["reason"] == "order cancelled: changed my mind"
    assert f"Your refund for order {order_id}" in await mail_subjects(stack, order_id, 5)


async def test_an_order_without_a_payment_method_waits_confirmed_and_an_admin_may_mark_it_paid(stack: Stack) -> None:
    product, customer = await stack.product(stock=5), await stack.customer()
    order_id = await place(stack, customer, product, "")
    await order_becomes(stack, order_id, "ORDER_STATUS_CONFIRMED")
    assert (await payment_becomes(stack, order_id, "PAYMENT_STATUS_AWAITING"))["provider"] == ""

    paid = await stack.call("PATCH", f"/orders/{order_id}", body={"status": "ORDER_STATUS_PAID", "reason": "cash"})
    assert paid.json()["order"]["status"] == "ORDER_STATUS_PAID"
    assert authorizations(ledger(stack), order_id) == []


async def test_kill_9_of_payment_between_the_providers_answer_and_its_commit_pays_the_order_once(
    stack: Stack,
) -> None:
    payment = stack.service("payment")
    await payment.terminate()
    payment.env["OMS_PAYMENT_FAILPOINT"] = "after_provider_call"
    await payment.start()
    process = payment.process
    assert process is not None
    product, customer = await stack.product(stock=5), await stack.customer()
    order_id = await place(stack, customer, product, "tok_visa")

    assert await asyncio.wait_for(process.wait(), timeout=60) == -9  # died right after the provider acted
    assert len(authorizations(ledger(stack), order_id)) == 1
    del payment.env["OMS_PAYMENT_FAILPOINT"]
    await payment.start()

    await order_becomes(stack, order_id, "ORDER_STATUS_PAID")
    assert len(authorizations(ledger(stack), order_id)) == 1
