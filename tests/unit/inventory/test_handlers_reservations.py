"""Reservation use cases with in-memory fakes: all or nothing, shortfalls, idempotence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inventory_svc.domain.events import (
    InventoryReleased,
    InventoryReserved,
    StockChangeCause,
    StockLevelChanged,
    StockReservationFailed,
)
from inventory_svc.domain.model import Line, Money, Product, ReservationStatus, StockLevel
from inventory_svc.service_layer.reservations import (
    InconsistentStock,
    Outcome,
    ReleaseOrder,
    ReserveOrder,
    ShipOrder,
    release_order,
    reserve_order,
    ship_order,
)
from tests.unit.inventory.fakes import FakeCatalogCache, Fakes, FakeUnitOfWork, Store, fake_deps


def _store(**stock: int) -> Store:
    store = Store()
    for product_id, quantity in stock.items():
        store.products[product_id] = Product(product_id, product_id.title(), "", Money("EUR", 500), True)
        store.stock[product_id] = StockLevel(product_id, quantity, 0, 1)
    return store


async def _reserve(store: Store, order_id: str, *lines: Line, event_id: str | None = None) -> Outcome:
    command = ReserveOrder(event_id or f"evt-{order_id}", order_id, list(lines))
    return await reserve_order(command, fake_deps(store))


async def test_every_line_is_reserved_with_events() -> None:
    store = _store(apple=5, pear=3)
    assert await _reserve(store, "o1", Line("pear", 3), Line("apple", 2)) is Outcome.RESERVED
    assert (store.stock["apple"].reserved, store.stock["pear"].reserved) == (2, 3)
    reserved, *changes = store.published
    assert reserved == InventoryReserved("o1", (Line("apple", 2), Line("pear", 3)))
    assert all(isinstance(c, StockLevelChanged) and c.cause is StockChangeCause.RESERVED for c in changes)
    assert [c.level.product_id for c in changes if isinstance(c, StockLevelChanged)] == ["apple", "pear"]


async def test_one_short_line_reserves_nothing_and_reports_the_shortfall() -> None:
    store = _store(apple=5, pear=1)
    assert await _reserve(store, "o1", Line("apple", 2), Line("pear", 2)) is Outcome.FAILED
    assert store.stock["apple"].reserved == 0 and store.stock["pear"].reserved == 0
    assert "o1" not in store.reservations
    [failed] = store.published
    assert isinstance(failed, StockReservationFailed)
    assert [(s.product_id, s.requested, s.available) for s in failed.shortfalls] == [("pear", 2, 1)]


async def test_unknown_and_inactive_products_are_short_with_nothing_available() -> None:
    store = _store(apple=5, pear=5)
    store.products["pear"] = Product("pear", "Pear", "", Money("EUR", 1), active=False)
    assert await _reserve(store, "o1", Line("ghost", 1), Line("pear", 1)) is Outcome.FAILED
    [failed] = store.published
    assert isinstance(failed, StockReservationFailed)
    assert [(s.product_id, s.available) for s in failed.shortfalls] == [("ghost", 0), ("pear", 0)]


async def test_malformed_order_is_refused_without_touching_stock() -> None:
    store = _store(apple=5)
    assert await _reserve(store, "o1", Line("apple", 0)) is Outcome.FAILED
    assert store.stock["apple"].version == 1
    assert isinstance(store.published[0], StockReservationFailed)


async def test_redelivered_event_changes_nothing() -> None:
    store = _store(apple=5)
    assert await _reserve(store, "o1", Line("apple", 2), event_id="e1") is Outcome.RESERVED
    assert await _reserve(store, "o1", Line("apple", 2), event_id="e1") is Outcome.UNCHANGED
    assert store.stock["apple"].reserved == 2 and len(store.published) == 2


async def test_repeated_order_under_a_new_event_id_changes_nothing() -> None:
    store = _store(apple=1)
    assert await _reserve(store, "o1", Line("apple", 5), event_id="e1") is Outcome.FAILED
    store.stock["apple"] = StockLevel("apple", 10, 0, 2)
    assert await _reserve(store, "o1", Line("apple", 5), event_id="e2") is Outcome.UNCHANGED
    assert store.stock["apple"].reserved == 0


async def test_cancel_releases_once() -> None:
    store = _store(apple=5)
    await _reserve(store, "o1", Line("apple", 2))
    cache = FakeCatalogCache()
    assert await release_order(ReleaseOrder("c1", "o1", "changed mind"), fake_deps(store, cache)) is Outcome.RELEASED
    assert store.stock["apple"].reserved == 0 and store.stock["apple"].quantity == 5
    assert store.reservations["o1"].status is ReservationStatus.RELEASED
    assert cache.evicted == ["apple"]
    assert any(isinstance(e, InventoryReleased) and e.reason == "changed mind" for e in store.published)
    assert await release_order(ReleaseOrder("c2", "o1", "again"), fake_deps(store, cache)) is Outcome.UNCHANGED


async def test_cancel_without_reservation_is_a_no_op() -> None:
    store = _store(apple=5)
    assert await release_order(ReleaseOrder("c1", "rejected", ""), fake_deps(store)) is Outcome.UNCHANGED
    assert store.published == []


async def test_shipping_commits_the_reservation() -> None:
    store = _store(apple=5)
    await _reserve(store, "o1", Line("apple", 2))
    assert await ship_order(ShipOrder("s1", "o1"), fake_deps(store)) is Outcome.SHIPPED
    assert (store.stock["apple"].quantity, store.stock["apple"].reserved) == (3, 0)
    assert store.reservations["o1"].status is ReservationStatus.SHIPPED
    assert await release_order(ReleaseOrder("c1", "o1", ""), fake_deps(store)) is Outcome.UNCHANGED


async def test_a_reservation_evicts_its_products_after_commit() -> None:
    store, cache = _store(apple=5, pear=3), FakeCatalogCache()
    command = ReserveOrder("e1", "o1", [Line("pear", 1), Line("apple", 1)])
    assert await reserve_order(command, fake_deps(store, cache)) is Outcome.RESERVED
    assert sorted(cache.evicted) == ["apple", "pear"]


async def test_a_refusal_is_claimed_so_its_redelivery_changes_nothing() -> None:
    store = _store(apple=1)
    assert await _reserve(store, "o1", Line("apple", 5), event_id="e1") is Outcome.FAILED
    assert "e1" in store.inbox and "o1" in store.failures
    store.stock["apple"] = StockLevel("apple", 10, 0, 2)
    assert await _reserve(store, "o1", Line("apple", 5), event_id="e1") is Outcome.UNCHANGED
    assert store.stock["apple"].reserved == 0 and len(store.published) == 1


async def test_repeated_lines_of_a_product_are_reserved_as_one() -> None:
    store = _store(apple=5)
    assert await _reserve(store, "o1", Line("apple", 2), Line("apple", 3)) is Outcome.RESERVED
    assert store.reservations["o1"].lines == [Line("apple", 5)] and store.stock["apple"].available == 0


async def test_a_line_short_only_until_a_delivery_commits_is_tried_again() -> None:
    """Stock arriving between the failed reservation and the refusal: the order is served."""
    fakes = Fakes(store=_store(apple=1))
    raced: list[str] = []

    class DeliveredMeanwhile(FakeUnitOfWork):
        async def __aenter__(self) -> DeliveredMeanwhile:
            await super().__aenter__()
            fake_stock, reserve = self.stock, self.stock.try_reserve

            async def try_reserve(product_id: str, quantity: int) -> StockLevel | None:
                level = await reserve(product_id, quantity)
                if level is None and not raced:
                    raced.append(product_id)
                    committed = self.store.stock[product_id]
                    self.store.stock[product_id] = StockLevel(product_id, 9, committed.reserved, committed.version + 1)
                return level

            fake_stock.try_reserve = try_reserve  # type: ignore[method-assign]
            return self

    deps = replace(fakes.deps(), uow=lambda: DeliveredMeanwhile(fakes.store))
    assert await reserve_order(ReserveOrder("e1", "o1", [Line("apple", 4)]), deps) is Outcome.RESERVED
    assert raced == ["apple"] and fakes.store.stock["apple"].reserved == 4
    assert "o1" not in fakes.store.failures


async def test_a_cancel_before_the_placement_leaves_a_tombstone_a_replay_cannot_pass() -> None:
    """The OrderPlaced sat in a dead-letter topic while the order was cancelled, then is replayed."""
    store = _store(apple=5)
    assert await release_order(ReleaseOrder("c1", "o1", "customer asked"), fake_deps(store)) is Outcome.UNCHANGED
    tombstone = store.reservations["o1"]
    assert (tombstone.lines, tombstone.status) == ([], ReservationStatus.RELEASED)
    assert await _reserve(store, "o1", Line("apple", 2), event_id="replayed") is Outcome.UNCHANGED
    assert store.stock["apple"].reserved == 0 and store.published == []


async def test_a_redelivered_cancel_is_claimed_once() -> None:
    store = _store(apple=5)
    await _reserve(store, "o1", Line("apple", 2))
    assert await release_order(ReleaseOrder("c1", "o1"), fake_deps(store)) is Outcome.RELEASED
    published = len(store.published)
    assert await release_order(ReleaseOrder("c1", "o1"), fake_deps(store)) is Outcome.UNCHANGED
    assert len(store.published) == published
    [released] = [e for e in store.published if isinstance(e, InventoryReleased)]
    assert released.reason == "order cancelled" and released.lines == (Line("apple", 2),)


async def test_a_shipment_publishes_the_new_levels_and_is_claimed_once() -> None:
    store, cache = _store(apple=5), FakeCatalogCache()
    await _reserve(store, "o1", Line("apple", 2))
    before = len(store.published)
    assert await ship_order(ShipOrder("s1", "o1"), fake_deps(store, cache)) is Outcome.SHIPPED
    [change] = store.published[before:]
    assert isinstance(change, StockLevelChanged) and change.cause is StockChangeCause.SHIPPED
    assert (change.level.quantity, change.level.reserved, change.order_id) == (3, 0, "o1")
    assert cache.evicted == ["apple"]
    assert await ship_order(ShipOrder("s1", "o1"), fake_deps(store)) is Outcome.UNCHANGED
    assert store.stock["apple"].quantity == 3


async def test_a_shipment_of_an_unknown_or_refused_order_changes_nothing() -> None:
    store = _store(apple=1)
    assert await _reserve(store, "o1", Line("apple", 5)) is Outcome.FAILED
    published = len(store.published)
    assert await ship_order(ShipOrder("s1", "o1"), fake_deps(store)) is Outcome.UNCHANGED
    assert await ship_order(ShipOrder("s2", "never-placed"), fake_deps(store)) is Outcome.UNCHANGED
    assert len(store.published) == published and store.stock["apple"].quantity == 1


async def test_a_reservation_whose_stock_row_vanished_fails_loudly_and_writes_nothing() -> None:
    """A manual change or a bug: not something a retry or a silent skip should paper over."""
    store = _store(apple=5)
    await _reserve(store, "o1", Line("apple", 2))
    store.stock["apple"] = StockLevel("apple", 5, 0, 9)
    with pytest.raises(InconsistentStock):
        await release_order(ReleaseOrder("c1", "o1"), fake_deps(store))
    assert store.reservations["o1"].status is ReservationStatus.RESERVED and "c1" not in store.inbox
