"""The payment step of the saga over fakes: both events known in either order, the amount from
the order (checked against its lines), declines, capture, refunds, and exactly one charge through
redeliveries, a crash between the provider's answer and the commit, unknown outcomes and a
provider that is down."""

from __future__ import annotations

import pytest

from mesh.serving.errors import FailedPrecondition, NotFound
from payment_svc.domain import events
from payment_svc.domain.model import PaymentStatus
from payment_svc.service_layer import payments, steps
from payment_svc.service_layer.provider import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable
from tests.unit.payment_svc.fakes import Crash, Harness

S = PaymentStatus


def placed(
    order_id: str = "ord-1", method: str = "tok_visa", *, lines: tuple[int, ...] = (1000, 500)
) -> payments.OrderPlaced:
    return payments.OrderPlaced(
        event_id=f"placed-{order_id}",
        order_id=order_id,
        customer_id="cust-1",
        total_minor=1500,
        currency="EUR",
        line_totals_minor=lines,
        payment_method=method,
    )


def reserved(order_id: str = "ord-1", event_id: str = "") -> payments.InventoryReserved:
    return payments.InventoryReserved(event_id or f"reserved-{order_id}", order_id)


async def authorized_order(h: Harness, order_id: str = "ord-1") -> None:
    await payments.order_placed(placed(order_id), h.deps)
    await payments.inventory_reserved(reserved(order_id), h.deps)
    assert h.payment(order_id).status is S.AUTHORIZED


# --- the flow -----------------------------------------------------------------------------------


@pytest.mark.parametrize("reservation_first", [False, True])
async def test_both_events_known_in_either_order_authorize_the_orders_total_once(reservation_first: bool) -> None:
    h = Harness()
    if reservation_first:
        await payments.inventory_reserved(reserved(), h.deps)
        assert h.payment("ord-1").status is S.AWAITING and h.provider.authorize_calls == []
        await payments.order_placed(placed(), h.deps)
    else:
        await payments.order_placed(placed(), h.deps)
        assert h.provider.authorize_calls == []
        await payments.inventory_reserved(reserved(), h.deps)

    payment = h.payment("ord-1")
    assert (payment.status, payment.attempt, payment.provider_ref) == (S.AUTHORIZED, 1, "pi_1")
    assert h.provider.authorize_calls == ["oms-ord-1-authorize-1"]
    assert h.published() == [events.PaymentAuthorized("ord-1", "cust-1", 1500, "EUR", "fake", "pi_1")]


async def test_an_order_without_a_payment_method_waits_and_nothing_is_charged() -> None:
    h = Harness()
    await payments.order_placed(placed(method=""), h.deps)
    await payments.inventory_reserved(reserved(), h.deps)

    assert h.payment("ord-1").status is S.AWAITING
    assert h.payment("ord-1").waits_for == "a payment method"
    assert (h.provider.authorize_calls, h.published()) == ([], [])


async def test_a_total_that_is_not_the_sum_of_the_lines_is_never_sent_to_the_provider() -> None:
    h = Harness()
    await payments.order_placed(placed(lines=(1000, 499)), h.deps)
    await payments.inventory_reserved(reserved(), h.deps)

    [failed] = h.published()
    assert isinstance(failed, events.PaymentFailed) and failed.decline_code == "order_invalid"
    assert "not the sum of its lines" in failed.reason
    assert h.provider.authorize_calls == []


async def test_a_decline_fails_the_payment_with_the_providers_reason() -> None:
    h = Harness()
    await payments.order_placed(placed(method="decline"), h.deps)
    await payments.inventory_reserved(reserved(), h.deps)

    assert h.payment("ord-1").status is S.FAILED
    assert h.published() == [events.PaymentFailed("ord-1", "cust-1", 1500, "EUR", "no", "card_declined")]


async def test_a_request_the_provider_rejects_fails_the_payment() -> None:
    h = Harness()
    h.provider.fail_next(ProviderRejected("No such payment method"))
    await payments.order_placed(placed(), h.deps)
    await payments.inventory_reserved(reserved(), h.deps)

    payment = h.payment("ord-1")
    assert (payment.status, payment.decline_code, payment.reason) == (S.FAILED, "rejected", "No such payment method")


async def test_shipping_captures_and_a_later_cancellation_refunds_the_capture() -> None:
    h = Harness()
    await authorized_order(h)
    await payments.order_shipped(payments.OrderShipped("shipped-1", "ord-1"), h.deps)
    assert h.payment("ord-1").status is S.CAPTURED
    await payments.order_cancelled(payments.OrderCancelled("cancel-1", "ord-1", "returned"), h.deps)

    assert h.payment("ord-1").status is S.REFUNDED
    assert (h.provider.captures, h.provider.refunds) == (["pi_1"], [("pi_1", True)])
    assert [type(e).__name__ for e in h.published()] == ["PaymentAuthorized", "PaymentCaptured", "PaymentRefunded"]
    refunded = h.published(events.PaymentRefunded)[0]
    assert isinstance(refunded, events.PaymentRefunded)
    assert (refunded.captured, refunded.reason) == (True, "order cancelled: returned")


async def test_cancelling_an_authorized_order_releases_the_hold() -> None:
    h = Harness()
    await authorized_order(h)
    await payments.order_cancelled(payments.OrderCancelled("cancel-1", "ord-1", ""), h.deps)

    assert h.payment("ord-1").status is S.REFUNDED
    assert h.provider.refunds == [("pi_1", False)]


async def test_an_order_cancelled_before_authorizing_is_never_charged() -> None:
    h = Harness()
    await payments.order_placed(placed(), h.deps)
    await payments.order_cancelled(payments.OrderCancelled("cancel-1", "ord-1", "changed mind"), h.deps)
    await payments.inventory_reserved(reserved(), h.deps)  # a late reservation

    assert h.payment("ord-1").status is S.CANCELLED
    assert (h.provider.authorize_calls, h.published()) == ([], [])


async def test_events_of_an_order_never_heard_of_change_nothing() -> None:
    h = Harness()
    outcome = await payments.order_cancelled(payments.OrderCancelled("c", "ord-x", ""), h.deps)
    assert outcome == "unknown_order" and h.store.payments == {}


# --- exactly once -------------------------------------------------------------------------------


async def test_a_redelivered_reservation_of_an_authorized_order_calls_nobody() -> None:
    h = Harness()
    await authorized_order(h)
    assert await payments.inventory_reserved(reserved(), h.deps) == "redelivered"
    assert h.provider.authorize_calls == ["oms-ord-1-authorize-1"] and h.provider.find_calls == []


async def test_a_crash_after_the_providers_answer_is_settled_by_asking_it_on_redelivery() -> None:
    h = Harness()
    await payments.order_placed(placed(), h.deps)
    h.crash_at = steps.AFTER_PROVIDER_CALL
    with pytest.raises(Crash):
        await payments.inventory_reserved(reserved(), h.deps)
    assert h.payment("ord-1").status is S.AUTHORIZING  # the intent was committed before the call
    assert h.provider.authorized == 1

    await payments.inventory_reserved(reserved(), h.deps)  # the same event again

    assert h.payment("ord-1").status is S.AUTHORIZED
    assert h.provider.find_calls == ["oms-ord-1-authorize-1"]
    assert h.provider.authorize_calls == ["oms-ord-1-authorize-1"]  # not sent again
    assert len(h.published(events.PaymentAuthorized)) == 1


async def test_an_unknown_outcome_waits_and_the_reconciler_settles_it_under_the_same_key() -> None:
    h = Harness()
    h.provider.fail_next(ProviderOutcomeUnknown("timed out"), act_then_fail=True)
    await authorized_or_pending(h)
    payment = h.payment("ord-1")
    assert (payment.status, payment.tries) == (S.AUTHORIZING, 1)
    assert "timed out" in payment.last_error

    assert await steps.reconcile_due(h.deps) == 0  # not due before its backoff
    h.clock.advance(1)
    assert await steps.reconcile_due(h.deps) == 1

    assert h.payment("ord-1").status is S.AUTHORIZED
    assert h.provider.find_calls == ["oms-ord-1-authorize-1"] and h.provider.authorized == 1
    assert len(h.published(events.PaymentAuthorized)) == 1


async def authorized_or_pending(h: Harness) -> None:
    await payments.order_placed(placed(), h.deps)
    await payments.inventory_reserved(reserved(), h.deps)


async def test_a_provider_down_for_a_while_is_retried_with_growing_delays_and_charges_once() -> None:
    h = Harness()
    h.provider.fail_next(ProviderUnavailable("503"), times=4)
    await authorized_or_pending(h)  # try 1 fails
    waits = []
    for _ in range(3):  # tries 2..4 fail (find fails first: it is asked before repeating)
        payment = h.payment("ord-1")
        assert payment.status is S.AUTHORIZING and payment.next_try_at is not None
        waits.append((payment.next_try_at - h.clock.now).total_seconds())
        h.clock.now = payment.next_try_at
        assert await steps.reconcile_due(h.deps) == 1
    h.clock.now = h.payment("ord-1").next_try_at or h.clock.now
    await steps.reconcile_due(h.deps)

    assert waits == [1.0, 2.0, 4.0]
    assert h.payment("ord-1").status is S.AUTHORIZED
    assert set(h.provider.authorize_calls) == {"oms-ord-1-authorize-1"} and h.provider.authorized == 1


async def test_a_cancellation_while_authorizing_releases_the_hold_once_it_is_known() -> None:
    h = Harness()
    h.provider.fail_next(ProviderOutcomeUnknown("timed out"), act_then_fail=True)
    await authorized_or_pending(h)
    # The reconciler takes it only when due: meanwhile the provider is asked by the cancellation's settle.
    await payments.order_cancelled(payments.OrderCancelled("cancel-1", "ord-1", "too slow"), h.deps)

    assert h.payment("ord-1").status is S.REFUNDED
    assert h.provider.refunds == [("pi_1", False)]
    assert [type(e).__name__ for e in h.published()] == ["PaymentAuthorized", "PaymentRefunded"]


async def test_replicas_reconciling_at_once_never_take_the_same_step() -> None:
    h = Harness()
    h.provider.fail_next(ProviderUnavailable("down"))
    await authorized_or_pending(h)
    h.clock.advance(5)
    async with h.deps.uow() as uow:
        first = await uow.payments.claim_due(h.clock(), 10, h.deps.policy.lease)
        second = await uow.payments.claim_due(h.clock(), 10, h.deps.policy.lease)
    assert (first, second) == (["ord-1"], [])


# --- the operator's refund ----------------------------------------------------------------------


async def test_an_operator_refunds_an_authorized_payment_once() -> None:
    h = Harness()
    await authorized_order(h)
    refunded = await payments.refund_payment("ord-1", "goodwill", h.deps)
    again = await payments.refund_payment("ord-1", "goodwill", h.deps)

    assert (refunded.status, again.status, refunded.reason) == (S.REFUNDED, S.REFUNDED, "goodwill")
    assert h.provider.refunds == [("pi_1", False)]


async def test_a_payment_that_holds_nothing_cannot_be_refunded() -> None:
    h = Harness()
    await payments.order_placed(placed(), h.deps)
    with pytest.raises(FailedPrecondition, match="AWAITING"):
        await payments.refund_payment("ord-1", "", h.deps)
    with pytest.raises(NotFound):
        await payments.refund_payment("ord-nope", "", h.deps)
