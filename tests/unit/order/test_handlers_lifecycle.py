"""Reading, listing and moving orders on in-memory fakes: the state machine, who may do what."""

from __future__ import annotations

import pytest

from mesh.serving.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from order_svc.domain.events import OrderCancelled, OrderStatusChanged
from order_svc.domain.model import Order, OrderLine
from order_svc.domain.status import OrderStatus
from order_svc.service_layer import lifecycle
from tests.unit.order.fakes import ADMIN, Fakes, customer_caller

S = OrderStatus


def stored(fakes: Fakes, order_id: str, status: OrderStatus = S.PENDING, customer_id: str = "c-1") -> Order:
    order = Order(order_id, customer_id, "EUR", [OrderLine("p-1", 1, "Widget", 250)], status=status)
    return fakes.store.add_order(order)


@pytest.fixture
def fakes() -> Fakes:
    made = Fakes()
    made.store.add_customer("c-1")
    made.store.add_customer("c-2")
    return made


async def test_a_customer_cancels_their_pending_order(fakes: Fakes) -> None:
    stored(fakes, "o-1")
    cancelled = await lifecycle.cancel_order("o-1", "", customer_caller("c-1"), fakes.deps)

    assert (cancelled.status, cancelled.status_reason, cancelled.version) == (S.CANCELLED, "cancelled by request", 2)
    assert fakes.store.order("o-1").status is S.CANCELLED
    assert fakes.store.published == [OrderCancelled("o-1", S.PENDING, "cancelled by request")]
    # After the commit: the cached copy is gone and the change is counted.
    assert (fakes.cache.evicted, fakes.metrics.moved) == (["o-1"], [S.CANCELLED])


async def test_an_admin_ships_a_paid_order(fakes: Fakes) -> None:
    stored(fakes, "o-1", S.PAID)
    shipped = await lifecycle.change_status("o-1", S.SHIPPED, "parcel 42", ADMIN, fakes.deps)
    assert shipped.status is S.SHIPPED
    assert fakes.store.published == [OrderStatusChanged("o-1", S.PAID, S.SHIPPED, "parcel 42")]


@pytest.mark.parametrize("target", [S.PAID, S.SHIPPED, S.DELIVERED])
async def test_only_an_admin_moves_an_order_along(fakes: Fakes, target: OrderStatus) -> None:
    stored(fakes, "o-1", S.CONFIRMED)
    with pytest.raises(PermissionDenied):
        await lifecycle.change_status("o-1", target, "", customer_caller("c-1"), fakes.deps)
    assert fakes.store.order("o-1").status is S.CONFIRMED


@pytest.mark.parametrize("target", [S.CONFIRMED, S.REJECTED])
async def test_saga_outcomes_are_not_set_by_callers(fakes: Fakes, target: OrderStatus) -> None:
    stored(fakes, "o-1")
    with pytest.raises(InvalidArgument) as refused:
        await lifecycle.change_status("o-1", target, "", ADMIN, fakes.deps)
    assert [v.field for v in refused.value.violations] == ["status"]


@pytest.mark.parametrize(
    ("current", "target"), [(S.PENDING, S.SHIPPED), (S.SHIPPED, S.CANCELLED), (S.CANCELLED, S.PAID)]
)
async def test_an_illegal_transition_names_both_states_and_changes_nothing(
    fakes: Fakes, current: OrderStatus, target: OrderStatus
) -> None:
    stored(fakes, "o-1", current)
    with pytest.raises(FailedPrecondition) as refused:
        await lifecycle.change_status("o-1", target, "", ADMIN, fakes.deps)
    assert refused.value.reason == "ILLEGAL_TRANSITION"
    assert refused.value.metadata == {"current_status": current.value, "requested_status": target.value}
    assert (fakes.store.order("o-1").status, fakes.store.order("o-1").version) == (current, 1)
    assert (fakes.store.published, fakes.cache.evicted, fakes.metrics.moved) == ([], [], [])


async def test_another_customers_order_is_reported_missing(fakes: Fakes) -> None:
    stored(fakes, "o-2", customer_id="c-2")
    caller = customer_caller("c-1")
    with pytest.raises(NotFound):
        await lifecycle.get_order("o-2", caller, fakes.deps)
    with pytest.raises(NotFound):
        await lifecycle.cancel_order("o-2", "", caller, fakes.deps)
    with pytest.raises(NotFound):
        await lifecycle.get_order("missing", ADMIN, fakes.deps)
    assert fakes.store.order("o-2").status is S.PENDING


async def test_reads_go_through_the_cache_and_a_change_evicts_it(fakes: Fakes) -> None:
    stored(fakes, "o-1")
    first = await lifecycle.get_order("o-1", ADMIN, fakes.deps)
    reads = len(fakes.units_of_work)
    again = await lifecycle.get_order("o-1", ADMIN, fakes.deps)
    assert (again, len(fakes.units_of_work)) == (first, reads)  # served from the cache

    await lifecycle.cancel_order("o-1", "changed my mind", ADMIN, fakes.deps)
    assert (await lifecycle.get_order("o-1", ADMIN, fakes.deps)).status is S.CANCELLED


async def test_a_customer_lists_only_their_own_orders_page_by_page(fakes: Fakes) -> None:
    for number in range(5):
        stored(fakes, f"o-{number}")
    stored(fakes, "o-other", customer_id="c-2")
    caller = customer_caller("c-1")

    first = await lifecycle.list_orders(
        caller=caller, deps=fakes.deps, limit=3, after=None, customer_id="", status=None
    )
    assert [o.order_id for o in first.orders] == ["o-4", "o-3", "o-2"]  # newest first
    assert first.next_key is not None
    rest = await lifecycle.list_orders(
        caller=caller, deps=fakes.deps, limit=3, after=first.next_key, customer_id="", status=None
    )
    assert ([o.order_id for o in rest.orders], rest.next_key) == (["o-1", "o-0"], None)

    with pytest.raises(PermissionDenied):
        await lifecycle.list_orders(caller=caller, deps=fakes.deps, limit=3, after=None, customer_id="c-2", status=None)


async def test_an_admin_lists_anyones_orders_by_status(fakes: Fakes) -> None:
    stored(fakes, "o-1")
    stored(fakes, "o-2", S.CONFIRMED, customer_id="c-2")
    page = await lifecycle.list_orders(
        caller=ADMIN, deps=fakes.deps, limit=10, after=None, customer_id="", status=S.CONFIRMED
    )
    assert [o.order_id for o in page.orders] == ["o-2"]
