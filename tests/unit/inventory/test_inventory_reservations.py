"""Reservation use cases with in-memory fakes: all or nothing, shortfalls, idempotence."""

from __future__ import annotations

from inventory_svc.domain.events import (
    InventoryReleased,
    InventoryReserved,
    StockChangeCause,
    StockLevelChanged,
    StockReservationFailed,
)
from inventory_svc.domain.model import Line, Money, Product, ReservationStatus, StockLevel
from inventory_svc.service_layer.reservations import (
    Outcome,
    ReleaseOrder,
    ReserveOrder,
    ShipOrder,
    release_order,
    reserve_order,
    ship_order,
)
from tests.unit.inventory.fakes import FakeCatalogCache, Store, fake_deps


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
