"""PlaceOrder's use case on in-memory fakes: pricing, the stock pre-check, idempotency, refusals."""

from __future__ import annotations

import pytest

from mesh.serving.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unavailable
from mesh.values.violations import FieldViolation
from order_svc.domain.events import OrderPlaced
from order_svc.domain.model import OrderLine
from order_svc.domain.placement import RequestedLine
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.placement import PlaceOrder, place_order
from tests.unit.order.fakes import ADMIN, Fakes, customer_caller


@pytest.fixture
def fakes() -> Fakes:
    made = Fakes()
    made.store.add_customer("c-1")
    made.inventory.add("p-1", price_minor=250, stock=10)
    made.inventory.add("p-2", price_minor=1000, stock=1)
    return made


def order_of(*lines: tuple[str, int], customer_id: str = "c-1", key: str = "") -> PlaceOrder:
    return PlaceOrder(customer_id, [RequestedLine(p, q) for p, q in lines], idempotency_key=key)


async def test_an_order_is_accepted_pending_priced_from_the_catalog_and_its_event_published(fakes: Fakes) -> None:
    caller = customer_caller("c-1", ("authorization", "Bearer t"))
    order = await place_order(order_of(("p-1", 2), ("p-2", 1), ("p-1", 1)), caller, fakes.deps)

    assert order.status is OrderStatus.PENDING
    assert order.lines == [OrderLine("p-1", 3, "Product p-1", 250), OrderLine("p-2", 1, "Product p-2", 1000)]
    assert (order.total_minor, order.currency) == (1750, "EUR")
    assert fakes.store.order(order.order_id).lines == order.lines
    assert fakes.store.published == [OrderPlaced(order.order_id)]
    assert order.events == []  # collected by the unit of work
    assert fakes.metrics.placed == 1
    # The caller's token went along to inventory, which checks it itself.
    assert {metadata for _, _, metadata in fakes.inventory.calls} == {(("authorization", "Bearer t"),)}


async def test_the_payment_method_travels_with_the_placement_only(fakes: Fakes) -> None:
    command = PlaceOrder("c-1", [RequestedLine("p-1", 1)], payment_method="tok_visa")
    order = await place_order(command, ADMIN, fakes.deps)

    assert fakes.store.published == [OrderPlaced(order.order_id, "tok_visa")]
    assert "tok_visa" not in repr(fakes.store.order(order.order_id))  # the order never stores the token


async def test_the_same_idempotency_key_and_request_return_the_first_order(fakes: Fakes) -> None:
    first = await place_order(order_of(("p-1", 1), key="k-1"), ADMIN, fakes.deps)
    again = await place_order(order_of(("p-1", 1), key="k-1"), ADMIN, fakes.deps)

    assert again.order_id == first.order_id
    assert list(fakes.store.tables.orders) == [first.order_id]
    assert fakes.store.published == [OrderPlaced(first.order_id)]
    assert fakes.metrics.placed == 1


async def test_an_idempotency_key_reused_for_another_request_is_refused(fakes: Fakes) -> None:
    await place_order(order_of(("p-1", 1), key="k-1"), ADMIN, fakes.deps)
    with pytest.raises(FailedPrecondition) as refused:
        await place_order(order_of(("p-1", 2), key="k-1"), ADMIN, fakes.deps)
    assert refused.value.reason == "IDEMPOTENCY_KEY_REUSED"
    assert len(fakes.store.tables.orders) == 1


async def test_an_unknown_or_withdrawn_product_is_named_by_its_position(fakes: Fakes) -> None:
    fakes.inventory.add("p-old", active=False)
    with pytest.raises(InvalidArgument) as refused:
        await place_order(order_of(("p-1", 1), ("nope", 1), ("p-old", 1)), ADMIN, fakes.deps)
    assert refused.value.violations == [
        FieldViolation("items[1].product_id", "no such product"),
        FieldViolation("items[2].product_id", "is not for sale"),
    ]
    assert fakes.store.tables.orders == {}
    assert fakes.store.published == []


async def test_short_stock_is_refused_at_once_with_the_precheck_on(fakes: Fakes) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        await place_order(order_of(("p-1", 1), ("p-2", 5)), ADMIN, fakes.deps)
    assert refused.value.reason == "INSUFFICIENT_STOCK"
    assert [(v.type, v.subject, v.description) for v in refused.value.violations] == [
        ("STOCK", "products/p-2", "requested 5, available 1")
    ]
    assert fakes.store.tables.orders == {}


async def test_with_the_precheck_off_the_saga_decides(fakes: Fakes) -> None:
    fakes.stock_precheck = False
    order = await place_order(order_of(("p-2", 5)), ADMIN, fakes.deps)
    assert order.status is OrderStatus.PENDING
    assert fakes.inventory.called("available") == 0


async def test_when_inventory_does_not_answer_the_stock_check_the_order_is_accepted(fakes: Fakes) -> None:
    """``available`` is None when the call timed out or the breaker is open: never a refusal."""
    fakes.price_book.remember([fakes.inventory.catalog["p-2"]])  # priced from memory
    fakes.inventory.away = True
    order = await place_order(order_of(("p-2", 5)), ADMIN, fakes.deps)
    assert fakes.store.order(order.order_id).status is OrderStatus.PENDING


async def test_prices_come_from_the_book_then_inventory_then_the_replica(fakes: Fakes) -> None:
    await place_order(order_of(("p-1", 1)), ADMIN, fakes.deps)
    assert fakes.store.tables.catalog["p-1"].price_minor == 250  # fetched entries land in the replica
    assert fakes.inventory.called("products") == 1

    await place_order(order_of(("p-1", 1)), ADMIN, fakes.deps)
    assert fakes.inventory.called("products") == 1  # the book's entry is fresh: no call

    fakes.price_book.forget()
    fakes.inventory.away = True
    replica_priced = await place_order(order_of(("p-1", 2)), ADMIN, fakes.deps)
    assert replica_priced.total_minor == 500

    with pytest.raises(Unavailable):
        await place_order(order_of(("p-2", 1)), ADMIN, fakes.deps)  # neither inventory nor the replica knows it


async def test_a_price_change_in_the_catalog_prices_the_next_order(fakes: Fakes) -> None:
    fakes.inventory.add("p-1", price_minor=300)
    order = await place_order(order_of(("p-1", 2)), ADMIN, fakes.deps)
    assert order.lines[0].unit_price_minor == 300


async def test_a_customer_places_orders_only_for_themselves(fakes: Fakes) -> None:
    fakes.store.add_customer("c-2")
    with pytest.raises(PermissionDenied):
        await place_order(order_of(("p-1", 1), customer_id="c-2"), customer_caller("c-1"), fakes.deps)
    assert fakes.inventory.calls == []  # refused before any work


async def test_an_unknown_customer_leaves_nothing_written(fakes: Fakes) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await place_order(order_of(("p-1", 1), customer_id="nobody", key="k-9"), ADMIN, fakes.deps)
    assert [v.field for v in refused.value.violations] == ["customer_id"]
    assert (fakes.store.tables.orders, fakes.store.tables.idempotency, fakes.store.published) == ({}, {}, [])


async def test_every_bad_line_is_named_and_the_list_is_bounded(fakes: Fakes) -> None:
    with pytest.raises(InvalidArgument) as refused:
        await place_order(order_of(*[("", 0)] * 8, customer_id=" "), ADMIN, fakes.deps)
    fields = [v.field for v in refused.value.violations]
    assert fields[:3] == ["customer_id", "items[0].product_id", "items[0].quantity"]
    assert len(fields) == 11  # ten listed, then one counting the rest
    assert refused.value.violations[-1] == FieldViolation("items", "7 more problems with the items not listed")
    assert fakes.inventory.calls == []
