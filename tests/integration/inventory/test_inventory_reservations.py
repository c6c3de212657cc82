"""Reservations against the real PostgreSQL: all or nothing, contention, compensation, redelivery."""

from __future__ import annotations

import asyncio

import pytest

from oms.inventory.v1 import events_pb2 as ev
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2
from tests.integration.inventory.helpers import (
    InventoryApp,
    cancelled,
    envelope,
    level,
    outbox,
    placed,
    product_with_stock,
    status_changed,
    unique,
)

pytestmark = pytest.mark.integration


async def test_multi_line_order_reserves_every_line(inventory: InventoryApp) -> None:
    apple, pear = await product_with_stock(inventory, 5), await product_with_stock(inventory, 3)
    order_id = unique("o")
    await inventory.event_handlers().order_placed(placed(order_id, (pear, 3), (apple, 2)))
    assert ((await level(inventory, apple)).reserved, (await level(inventory, pear)).reserved) == (2, 3)
    [(key, reserved)] = await outbox(inventory, ev.InventoryReserved)
    assert key == order_id
    assert sorted((i.product_id, i.quantity) for i in reserved.items) == sorted([(apple, 2), (pear, 3)])
    changes = await outbox(inventory, ev.StockLevelChanged)
    reserved_changes = [(k, m) for k, m in changes if m.cause == ev.STOCK_CHANGE_CAUSE_RESERVED]
    assert sorted(k for k, _ in reserved_changes) == sorted([apple, pear])
    assert all(m.order_id == order_id for _, m in reserved_changes)


async def test_short_line_reserves_nothing_and_reports_each_shortfall(inventory: InventoryApp) -> None:
    apple, pear = await product_with_stock(inventory, 5), await product_with_stock(inventory, 1)
    ghost, order_id = unique("ghost"), unique("o")
    before = await level(inventory, apple), await level(inventory, pear)
    await inventory.event_handlers().order_placed(placed(order_id, (apple, 2), (pear, 2), (ghost, 1)))
    assert (await level(inventory, apple), await level(inventory, pear)) == before
    [(key, failed)] = await outbox(inventory, ev.StockReservationFailed)
    assert key == order_id
    assert sorted((s.product_id, s.requested, s.available) for s in failed.shortfalls) == sorted(
        [(pear, 2, 1), (ghost, 1, 0)]
    )
    assert await outbox(inventory, ev.InventoryReserved) == []


async def test_concurrent_orders_never_oversell(inventory: InventoryApp) -> None:
    product = await product_with_stock(inventory, 50)
    handlers = inventory.event_handlers()
    orders = [placed(unique("o"), (product, 1)) for _ in range(300)]
    await asyncio.gather(*(handlers.order_placed(o) for o in orders))
    final = await level(inventory, product)
    assert (final.quantity, final.reserved, final.available) == (50, 50, 0)
    assert len(await outbox(inventory, ev.InventoryReserved)) == 50
    assert len(await outbox(inventory, ev.StockReservationFailed)) == 250


async def test_cancel_releases_and_a_second_cancel_changes_nothing(inventory: InventoryApp) -> None:
    product, order_id = await product_with_stock(inventory, 4), unique("o")
    handlers = inventory.event_handlers()
    await handlers.order_placed(placed(order_id, (product, 3)))
    await handlers.order_cancelled(cancelled(order_id, "changed mind"))
    after = await level(inventory, product)
    assert (after.quantity, after.reserved) == (4, 0)
    [(_, released)] = await outbox(inventory, ev.InventoryReleased)
    assert (released.order_id, released.reason) == (order_id, "changed mind")
    await handlers.order_cancelled(cancelled(order_id))
    assert await level(inventory, product) == after


async def test_cancel_of_a_rejected_order_is_a_no_op(inventory: InventoryApp) -> None:
    product, order_id = await product_with_stock(inventory, 1), unique("o")
    handlers = inventory.event_handlers()
    await handlers.order_placed(placed(order_id, (product, 5)))
    before = await level(inventory, product)
    await handlers.order_cancelled(cancelled(order_id))
    assert await level(inventory, product) == before
    assert await outbox(inventory, ev.InventoryReleased) == []


async def test_shipping_commits_the_reservation(inventory: InventoryApp) -> None:
    product, order_id = await product_with_stock(inventory, 10), unique("o")
    handlers = inventory.event_handlers()
    await handlers.order_placed(placed(order_id, (product, 4)))
    await handlers.order_status_changed(status_changed(order_id, order_pb2.ORDER_STATUS_PAID))
    assert (await level(inventory, product)).reserved == 4
    await handlers.order_status_changed(status_changed(order_id, order_pb2.ORDER_STATUS_SHIPPED))
    after = await level(inventory, product)
    assert (after.quantity, after.reserved, after.available) == (6, 0, 6)
    shipped = [m for _, m in await outbox(inventory, ev.StockLevelChanged) if m.cause == ev.STOCK_CHANGE_CAUSE_SHIPPED]
    assert [(m.product_id, m.quantity, m.reserved) for m in shipped] == [(product, 6, 0)]


async def test_redelivered_event_changes_nothing(inventory: InventoryApp) -> None:
    product, order_id = await product_with_stock(inventory, 10), unique("o")
    handlers = inventory.event_handlers()
    event = placed(order_id, (product, 2))
    await handlers.order_placed(event)
    after_first, events_first = await level(inventory, product), await outbox(inventory)
    await handlers.order_placed(event)
    assert await level(inventory, product) == after_first
    assert await outbox(inventory) == events_first
    cancel = cancelled(order_id)
    await handlers.order_cancelled(cancel)
    after_cancel = await level(inventory, product)
    await handlers.order_cancelled(cancel)
    assert await level(inventory, product) == after_cancel


async def test_an_order_placed_replayed_after_its_cancellation_reserves_nothing(inventory: InventoryApp) -> None:
    """OrderCancelled handled before any reservation (its OrderPlaced sat in the DLQ): the order
    is remembered as released, and the OrderPlaced replayed later (same or new event id) is a no-op."""
    product, order_id = await product_with_stock(inventory, 5), unique("o")
    handlers = inventory.event_handlers()
    await handlers.order_cancelled(cancelled(order_id))
    before = await level(inventory, product)
    await handlers.order_placed(placed(order_id, (product, 2)))
    await handlers.order_placed(placed(order_id, (product, 2), event_id=unique("replay")))
    assert await level(inventory, product) == before
    assert await outbox(inventory, ev.InventoryReserved) == []
    assert await outbox(inventory, ev.StockReservationFailed) == []


async def test_an_order_placed_replayed_with_a_new_event_id_reserves_once(inventory: InventoryApp) -> None:
    product, order_id = await product_with_stock(inventory, 5), unique("o")
    handlers = inventory.event_handlers()
    await handlers.order_placed(placed(order_id, (product, 2)))
    await handlers.order_placed(placed(order_id, (product, 2), event_id=unique("replay")))
    assert (await level(inventory, product)).reserved == 2
    assert len(await outbox(inventory, ev.InventoryReserved)) == 1


async def test_an_unwanted_reservation_is_released(inventory: InventoryApp) -> None:
    product, order_id = await product_with_stock(inventory, 5), unique("o")
    handlers = inventory.event_handlers()
    await handlers.order_placed(placed(order_id, (product, 3)))
    unwanted = order_events.OrderReservationUnwanted(order_id=order_id, status=order_pb2.ORDER_STATUS_CANCELLED)
    await handlers.reservation_unwanted(envelope(unwanted, order_id))
    after = await level(inventory, product)
    assert (after.quantity, after.reserved) == (5, 0)
    [(_, released)] = await outbox(inventory, ev.InventoryReleased)
    assert released.order_id == order_id
    # Again (a redelivery with a new id, or an order cancelled meanwhile): nothing more.
    await handlers.reservation_unwanted(envelope(unwanted, order_id))
    await handlers.order_cancelled(cancelled(order_id))
    assert await level(inventory, product) == after
