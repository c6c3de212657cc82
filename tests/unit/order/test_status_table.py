"""The order state machine, every (from, to) pair (docs/architecture.md, "Order states")."""

from __future__ import annotations

import itertools

import pytest

from order_svc.domain.events import OrderCancelled, OrderStatusChanged
from order_svc.domain.model import Order, OrderLine
from order_svc.domain.status import FINAL_STATUSES, IllegalTransition, OrderStatus, can_transition

S = OrderStatus
ALLOWED = {
    (S.PENDING, S.CONFIRMED),
    (S.PENDING, S.REJECTED),
    (S.PENDING, S.CANCELLED),
    (S.CONFIRMED, S.PAID),
    (S.CONFIRMED, S.CANCELLED),
    (S.PAID, S.SHIPPED),
    (S.PAID, S.CANCELLED),
    (S.SHIPPED, S.DELIVERED),
}
ALL_PAIRS = list(itertools.product(OrderStatus, repeat=2))


def order_in(status: OrderStatus) -> Order:
    order = Order("o-1", "c-1", "EUR", [OrderLine("p-1", 2, "Widget", 150)], status=status)
    order.events.clear()
    return order


def test_the_table_covers_every_pair() -> None:
    assert len(ALL_PAIRS) == 49
    assert {pair for pair in ALL_PAIRS if can_transition(*pair)} == ALLOWED


@pytest.mark.parametrize(("current", "requested"), ALL_PAIRS, ids=lambda s: s.value)
def test_each_pair_is_allowed_or_refused_naming_both_states(current: OrderStatus, requested: OrderStatus) -> None:
    order = order_in(current)
    if (current, requested) in ALLOWED:
        order.move_to(requested, reason="why")
        assert order.status is requested
        assert order.version == 2
        expected = OrderCancelled if requested is S.CANCELLED else OrderStatusChanged
        assert [type(e) for e in order.events] == [expected]
    else:
        with pytest.raises(IllegalTransition) as raised:
            order.move_to(requested)
        assert current.value in str(raised.value) and requested.value in str(raised.value)
        assert order.status is current and order.version == 1 and order.events == []


def test_final_states_are_exactly_the_ones_with_no_way_out() -> None:
    assert {S.REJECTED, S.DELIVERED, S.CANCELLED} == FINAL_STATUSES


def test_placing_records_the_placed_event_and_prices_the_total() -> None:
    order = Order.place(
        order_id="o-9",
        customer_id="c-1",
        currency="EUR",
        lines=[OrderLine("p-1", 2, "A", 150), OrderLine("p-2", 1, "B", 999)],
    )
    assert order.status is S.PENDING
    assert order.total_minor == 1299
    assert [type(e).__name__ for e in order.events] == ["OrderPlaced"]


def test_rejection_keeps_the_shortfalls() -> None:
    from order_svc.domain.model import Shortfall

    order = order_in(S.PENDING)
    order.reject("insufficient stock", [Shortfall("p-1", 2, 0)])
    assert order.status is S.REJECTED
    assert order.shortfalls == [Shortfall("p-1", 2, 0)]
    assert order.status_reason == "insufficient stock"
