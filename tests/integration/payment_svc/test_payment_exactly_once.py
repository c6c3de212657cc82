"""One charge per order, with payment_svc as a real process: events in either order, redelivery,
kill -9 between the provider's answer and its commit, a provider that times out then answers,
and one that is down for a while. The simulated provider's ledger (a file that outlives the
process) counts what was really authorized."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from testkit.wait import eventually
from tests.integration.payment_svc.conftest import PaymentRun
from tests.integration.payment_svc.support import (
    authorizations,
    cancelled,
    outbox_types,
    payment_row,
    placed,
    publish,
    reserved,
    shipped,
)

pytestmark = pytest.mark.integration

AUTHORIZED = "oms.payment.v1.PaymentAuthorized"


def new_order() -> str:
    return f"ord-{uuid.uuid4().hex[:10]}"


async def status_becomes(run: PaymentRun, order_id: str, status: str, *, timeout_s: float = 30) -> dict[str, Any]:
    async def check() -> dict[str, Any]:
        row = await payment_row(run.database_url, order_id)
        assert row is not None and row["status"] == status, row
        return row

    return await eventually(check, timeout_s=timeout_s)


async def place_and_reserve(run: PaymentRun, order_id: str, token: str = "tok_visa") -> None:
    await publish(run.producer, run.mesh.kafka, "orders", order_id, placed(order_id, token))
    await publish(run.producer, run.mesh.kafka, "inventory", order_id, reserved(order_id))


async def test_a_reservation_before_its_order_is_kept_and_authorized_once_the_order_arrives(
    payment: PaymentRun,
) -> None:
    await payment.service.start()
    order_id = new_order()
    await publish(payment.producer, payment.mesh.kafka, "inventory", order_id, reserved(order_id))
    row = await status_becomes(payment, order_id, "AWAITING")
    assert row["reserved"] and row["amount_minor"] is None

    await publish(payment.producer, payment.mesh.kafka, "orders", order_id, placed(order_id))
    row = await status_becomes(payment, order_id, "AUTHORIZED")

    assert (row["amount_minor"], row["currency"]) == (1500, "EUR")
    assert len(authorizations(payment.ledger, order_id)) == 1
    assert await outbox_types(payment.database_url, order_id) == [AUTHORIZED]


async def test_a_declined_card_fails_the_payment_with_the_reason(payment: PaymentRun) -> None:
    await payment.service.start()
    order_id = new_order()
    await place_and_reserve(payment, order_id, "tok_chargeDeclined")
    row = await status_becomes(payment, order_id, "FAILED")
    assert (row["decline_code"], row["reason"]) == ("card_declined", "Your card was declined.")
    assert await outbox_types(payment.database_url, order_id) == ["oms.payment.v1.PaymentFailed"]


async def test_shipping_captures_and_cancelling_refunds_each_once(payment: PaymentRun) -> None:
    await payment.service.start()
    shipped_id, cancelled_id = new_order(), new_order()
    for order_id in (shipped_id, cancelled_id):
        await place_and_reserve(payment, order_id)
        await status_becomes(payment, order_id, "AUTHORIZED")
    await publish(payment.producer, payment.mesh.kafka, "orders", shipped_id, shipped(shipped_id))
    await publish(payment.producer, payment.mesh.kafka, "orders", cancelled_id, cancelled(cancelled_id))

    await status_becomes(payment, shipped_id, "CAPTURED")
    row = await status_becomes(payment, cancelled_id, "REFUNDED")

    assert not row["captured"]  # only the hold was released
    assert await outbox_types(payment.database_url, shipped_id) == [AUTHORIZED, "oms.payment.v1.PaymentCaptured"]
    assert await outbox_types(payment.database_url, cancelled_id) == [AUTHORIZED, "oms.payment.v1.PaymentRefunded"]


async def test_kill_9_between_the_providers_answer_and_the_commit_still_charges_once(payment: PaymentRun) -> None:
    payment.service.env["OMS_PAYMENT_FAILPOINT"] = "after_provider_call"
    await payment.service.start()
    process = payment.service.process
    assert process is not None
    order_id = new_order()
    await place_and_reserve(payment, order_id)

    # The provider authorized; the process died before committing the outcome (or its offsets).
    assert await asyncio.wait_for(process.wait(), timeout=60) == -9
    row = await payment_row(payment.database_url, order_id)
    assert row is not None and row["status"] == "AUTHORIZING"
    assert len(authorizations(payment.ledger, order_id)) == 1

    # Restarted (without the failpoint), the redelivered InventoryReserved settles the recorded
    # step by asking the provider under the same key: no second authorization.
    del payment.service.env["OMS_PAYMENT_FAILPOINT"]
    await payment.service.start()
    row = await status_becomes(payment, order_id, "AUTHORIZED")

    assert row["attempt"] == 1
    assert len(authorizations(payment.ledger, order_id)) == 1
    assert await outbox_types(payment.database_url, order_id) == [AUTHORIZED]


async def test_a_provider_that_times_out_is_asked_later_and_its_answer_counts(payment: PaymentRun) -> None:
    await payment.service.start()
    order_id = new_order()
    await place_and_reserve(payment, order_id, "tok_timeout")

    row = await status_becomes(payment, order_id, "AUTHORIZED")

    assert row["attempt"] == 1
    assert len(authorizations(payment.ledger, order_id)) == 1
    assert await outbox_types(payment.database_url, order_id) == [AUTHORIZED]


async def test_a_provider_down_for_a_while_makes_orders_wait_none_lost_none_charged_twice(
    payment: PaymentRun,
) -> None:
    payment.take_provider_down()
    await payment.service.start()
    order_ids = [new_order() for _ in range(3)]
    for order_id in order_ids:
        await place_and_reserve(payment, order_id)

    async def all_retried() -> bool:
        for order_id in order_ids:
            row = await payment_row(payment.database_url, order_id)
            assert row is not None and row["status"] == "AUTHORIZING" and row["tries"] >= 2, row
        return True

    await eventually(all_retried, timeout_s=30)
    assert all(authorizations(payment.ledger, o) == [] for o in order_ids)

    payment.bring_provider_back()
    for order_id in order_ids:
        await status_becomes(payment, order_id, "AUTHORIZED")
        assert len(authorizations(payment.ledger, order_id)) == 1
        assert await outbox_types(payment.database_url, order_id) == [AUTHORIZED]
