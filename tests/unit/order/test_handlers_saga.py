"""The order side of the saga on in-memory fakes: reservation outcomes, payments, the sweep."""

from __future__ import annotations

from datetime import timedelta

import pytest

from order_svc.domain.events import OrderCancelled, OrderStatusChanged, ReservationUnwanted
from order_svc.domain.model import Order, OrderLine, Shortfall
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.saga import (
    PaymentAuthorized,
    PaymentFailed,
    PaymentRefunded,
    ReservationOutcome,
    apply_payment_authorized,
    apply_payment_failed,
    apply_payment_refunded,
    apply_reservation_outcome,
    cancel_unpaid,
)
from tests.unit.order.fakes import START, Fakes

S = OrderStatus


def stored(fakes: Fakes, order_id: str, status: OrderStatus = S.PENDING, **kwargs: object) -> Order:
    order = Order(order_id, "c-1", "EUR", [OrderLine("p-1", 2, "Widget", 250)], status=status)
    return fakes.store.add_order(order, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def fakes() -> Fakes:
    made = Fakes()
    made.store.add_customer("c-1")
    return made


async def test_a_reservation_confirms_the_order(fakes: Fakes) -> None:
    stored(fakes, "o-1")
    await apply_reservation_outcome(ReservationOutcome("e-1", "o-1", reserved=True), fakes.deps)
    assert fakes.store.order("o-1").status is S.CONFIRMED
    assert fakes.store.published == [OrderStatusChanged("o-1", S.PENDING, S.CONFIRMED, "")]
    assert (fakes.cache.evicted, fakes.metrics.moved) == (["o-1"], [S.CONFIRMED])


async def test_a_failed_reservation_rejects_the_order_with_its_shortfalls(fakes: Fakes) -> None:
    stored(fakes, "o-1")
    short = (Shortfall("p-1", requested=2, available=1),)
    await apply_reservation_outcome(
        ReservationOutcome("e-1", "o-1", reserved=False, reason="not enough p-1", shortfalls=short), fakes.deps
    )
    rejected = fakes.store.order("o-1")
    assert (rejected.status, rejected.status_reason, rejected.shortfalls) == (S.REJECTED, "not enough p-1", list(short))
    assert fakes.store.published == [OrderStatusChanged("o-1", S.PENDING, S.REJECTED, "not enough p-1")]


async def test_a_redelivered_event_is_applied_once(fakes: Fakes) -> None:
    stored(fakes, "o-1")
    outcome = ReservationOutcome("e-1", "o-1", reserved=True)
    await apply_reservation_outcome(outcome, fakes.deps)
    await apply_reservation_outcome(outcome, fakes.deps)
    assert fakes.store.order("o-1").version == 2
    assert len(fakes.store.published) == 1
    assert fakes.store.tables.inbox == {"e-1"}


async def test_a_reservation_for_an_order_that_holds_no_stock_is_handed_back(fakes: Fakes) -> None:
    stored(fakes, "o-1", S.CANCELLED)
    await apply_reservation_outcome(ReservationOutcome("e-late", "o-1", reserved=True), fakes.deps)
    assert fakes.store.order("o-1").status is S.CANCELLED
    assert fakes.store.published == [ReservationUnwanted("o-1", S.CANCELLED, "e-late")]


async def test_an_outcome_for_an_order_that_moved_on_is_ignored(fakes: Fakes) -> None:
    stored(fakes, "o-1", S.PAID)
    await apply_reservation_outcome(ReservationOutcome("e-1", "o-1", reserved=False, reason="late"), fakes.deps)
    assert fakes.store.order("o-1").status is S.PAID
    assert fakes.store.published == []
    assert fakes.store.tables.inbox == {"e-1"}  # claimed all the same: a redelivery is not looked at again


async def test_an_outcome_for_an_unknown_order_is_claimed_and_dropped(fakes: Fakes) -> None:
    await apply_reservation_outcome(ReservationOutcome("e-1", "nobody", reserved=True), fakes.deps)
    assert (fakes.store.tables.inbox, fakes.store.published) == ({"e-1"}, [])


@pytest.mark.parametrize("status", [S.PENDING, S.CONFIRMED])
async def test_a_failed_payment_cancels_the_order(fakes: Fakes, status: OrderStatus) -> None:
    stored(fakes, "o-1", status)
    await apply_payment_failed(PaymentFailed("e-1", "o-1", "card declined"), fakes.deps)
    assert fakes.store.order("o-1").status_reason == "payment failed: card declined"
    assert fakes.store.published == [OrderCancelled("o-1", status, "payment failed: card declined")]

    await apply_payment_failed(PaymentFailed("e-1", "o-1", "card declined"), fakes.deps)  # redelivered
    assert len(fakes.store.published) == 1


async def test_a_failed_payment_for_a_shipped_order_changes_nothing(fakes: Fakes) -> None:
    stored(fakes, "o-1", S.SHIPPED)
    await apply_payment_failed(PaymentFailed("e-1", "o-1"), fakes.deps)
    assert (fakes.store.order("o-1").status, fakes.store.published) == (S.SHIPPED, [])


async def test_the_sweep_cancels_orders_confirmed_and_unpaid_before_the_cutoff(fakes: Fakes) -> None:
    stored(fakes, "o-old", S.CONFIRMED, confirmed_at=START - timedelta(hours=2))
    stored(fakes, "o-new", S.CONFIRMED, confirmed_at=START)
    stored(fakes, "o-paid", S.PAID, confirmed_at=START - timedelta(hours=2))

    assert await cancel_unpaid(START - timedelta(hours=1), fakes.deps) == 1
    assert [fakes.store.order(o).status for o in ("o-old", "o-new", "o-paid")] == [S.CANCELLED, S.CONFIRMED, S.PAID]
    assert fakes.store.published == [OrderCancelled("o-old", S.CONFIRMED, "not paid in time; reservation expired")]
    assert await cancel_unpaid(START - timedelta(hours=1), fakes.deps) == 0


async def test_the_sweep_works_in_batches(fakes: Fakes) -> None:
    for number in range(3):
        stored(fakes, f"o-{number}", S.CONFIRMED, confirmed_at=START - timedelta(hours=2, minutes=number))
    assert await cancel_unpaid(START, fakes.deps, batch=2) == 2
    assert await cancel_unpaid(START, fakes.deps, batch=2) == 1
    assert {fakes.store.order(f"o-{n}").status for n in range(3)} == {S.CANCELLED}


# --- payments (payment_svc) ---------------------------------------------------------------------


async def test_an_authorized_payment_makes_a_confirmed_order_paid(fakes: Fakes) -> None:
    stored(fakes, "o-1", S.CONFIRMED)
    await apply_payment_authorized(PaymentAuthorized("e-1", "o-1", 500, "EUR"), fakes.deps)
    assert fakes.store.order("o-1").status is S.PAID
    assert fakes.store.published == [OrderStatusChanged("o-1", S.CONFIRMED, S.PAID, "payment authorized")]


async def test_a_payment_that_overtakes_its_reservation_confirms_and_pays_and_the_late_reservation_changes_nothing(
    fakes: Fakes,
) -> None:
    stored(fakes, "o-1")
    await apply_payment_authorized(PaymentAuthorized("e-pay", "o-1", 500, "EUR"), fakes.deps)
    await apply_reservation_outcome(ReservationOutcome("e-res", "o-1", reserved=True), fakes.deps)

    assert fakes.store.order("o-1").status is S.PAID
    assert fakes.store.published == [
        OrderStatusChanged("o-1", S.PENDING, S.CONFIRMED, ""),
        OrderStatusChanged("o-1", S.CONFIRMED, S.PAID, "payment authorized"),
    ]


async def test_a_payment_for_another_amount_never_marks_the_order_paid(fakes: Fakes) -> None:
    stored(fakes, "o-1", S.CONFIRMED)
    await apply_payment_authorized(PaymentAuthorized("e-1", "o-1", 499, "EUR"), fakes.deps)
    await apply_payment_authorized(PaymentAuthorized("e-2", "o-1", 500, "USD"), fakes.deps)
    assert fakes.store.order("o-1").status is S.CONFIRMED and fakes.store.published == []


async def test_a_payment_for_an_order_paid_by_hand_or_cancelled_changes_nothing(fakes: Fakes) -> None:
    stored(fakes, "o-paid", S.PAID)
    stored(fakes, "o-gone", S.CANCELLED)
    for order_id in ("o-paid", "o-gone"):
        await apply_payment_authorized(PaymentAuthorized(f"e-{order_id}", order_id, 500, "EUR"), fakes.deps)
    assert fakes.store.published == []


async def test_a_refund_cancels_an_unshipped_order_once_and_leaves_a_shipped_one(fakes: Fakes) -> None:
    stored(fakes, "o-1", S.PAID)
    stored(fakes, "o-2", S.SHIPPED)
    refund = PaymentRefunded("e-1", "o-1", "goodwill")
    await apply_payment_refunded(refund, fakes.deps)
    await apply_payment_refunded(refund, fakes.deps)
    await apply_payment_refunded(PaymentRefunded("e-2", "o-2", "returned"), fakes.deps)

    assert (fakes.store.order("o-1").status, fakes.store.order("o-2").status) == (S.CANCELLED, S.SHIPPED)
    assert fakes.store.published == [OrderCancelled("o-1", S.PAID, "payment refunded: goodwill")]
