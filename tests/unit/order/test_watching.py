"""WatchOrder's shared feeds: one read per order per change or tick, whatever the watcher count."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from mesh.serving.errors import NotFound
from order_svc.adapters.watch_hub import WatchHub
from order_svc.domain.model import Order
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.ports import Caller
from order_svc.service_layer.watching import OrderFeeds, follow
from testkit.wait import eventually

ADMIN = Caller(principal_id="admin-1", is_admin=True)


class CountingOrders:
    """A fake of the order table that counts reads; ``change`` commits a new version."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self.reads = 0
        self.failing: Exception | None = None

    def add(self, customer_id: str = "c-1") -> str:
        order_id = f"o-{uuid.uuid4().hex[:8]}"
        self.orders[order_id] = Order(order_id=order_id, customer_id=customer_id, currency="EUR", lines=[])
        return order_id

    def change(self, order_id: str, status: OrderStatus = OrderStatus.PENDING) -> None:
        current = self.orders[order_id]
        self.orders[order_id] = replace(current, status=status, version=current.version + 1)

    async def read(self, order_id: str) -> Order | None:
        self.reads += 1
        await asyncio.sleep(0)  # a real read yields to the loop
        if self.failing is not None:
            raise self.failing
        return self.orders.get(order_id)


@pytest.fixture
def orders() -> CountingOrders:
    return CountingOrders()


@pytest.fixture
def hub() -> WatchHub:
    return WatchHub("postgresql://unused")  # notify() only: no LISTEN connection in unit tests


class Watcher:
    """One follower of an order in a task of its own, recording the versions it was sent."""

    def __init__(self, feeds: OrderFeeds, order_id: str, caller: Caller = ADMIN, lifetime_s: float = 60.0) -> None:
        self.versions: list[int] = []
        self.statuses: list[OrderStatus] = []
        loop = asyncio.get_running_loop()
        self.task = asyncio.create_task(self._follow(feeds, order_id, caller, loop.time() + lifetime_s))

    async def _follow(self, feeds: OrderFeeds, order_id: str, caller: Caller, until: float) -> None:
        async for order in follow(order_id, caller, feeds, until=until):
            self.versions.append(order.version)
            self.statuses.append(order.status)


@pytest.fixture
async def watchers() -> AsyncIterator[list[Watcher]]:
    started: list[Watcher] = []
    yield started
    for watcher in started:
        watcher.task.cancel()
    await asyncio.gather(*(w.task for w in started), return_exceptions=True)


async def all_saw(watchers: list[Watcher], version: int) -> None:
    async def seen() -> bool:
        return all(w.versions and w.versions[-1] == version for w in watchers)

    await eventually(seen, timeout_s=5, interval_s=0.01, what=f"every watcher at version {version}")


async def test_a_hundred_watchers_of_one_order_share_one_read_per_change(
    orders: CountingOrders, hub: WatchHub, watchers: list[Watcher]
) -> None:
    feeds = OrderFeeds(orders.read, hub, refresh_s=60, min_gap_s=0)
    order_id = orders.add()
    watchers += [Watcher(feeds, order_id) for _ in range(100)]
    await all_saw(watchers, 1)
    assert orders.reads == 1
    for version in (2, 3):
        orders.change(order_id)
        hub.notify(order_id)
        await all_saw(watchers, version)
        assert orders.reads == version  # one read per change, not one per watcher
    assert len(feeds) == 1


async def test_a_notification_storm_is_coalesced(
    orders: CountingOrders, hub: WatchHub, watchers: list[Watcher]
) -> None:
    feeds = OrderFeeds(orders.read, hub, refresh_s=60, min_gap_s=0.2)
    order_id = orders.add()
    watchers += [Watcher(feeds, order_id) for _ in range(20)]
    await all_saw(watchers, 1)
    for _ in range(500):
        orders.change(order_id)
        hub.notify(order_id)
    await all_saw(watchers, 501)
    # The first notification wakes a read; the other 499 collapse into at most one more.
    assert orders.reads <= 3


async def test_the_refresh_tick_is_one_read_for_all_watchers(
    orders: CountingOrders, hub: WatchHub, watchers: list[Watcher]
) -> None:
    feeds = OrderFeeds(orders.read, hub, refresh_s=0.2, min_gap_s=0)
    order_id = orders.add()
    watchers += [Watcher(feeds, order_id) for _ in range(100)]
    await all_saw(watchers, 1)
    orders.change(order_id)  # no notification: only the tick can find it
    await all_saw(watchers, 2)
    # One read at the start and one per tick since; 100 watchers reading alone would be 200+.
    assert 2 <= orders.reads <= 4


async def test_the_feed_stops_with_its_last_watcher(
    orders: CountingOrders, hub: WatchHub, watchers: list[Watcher]
) -> None:
    feeds = OrderFeeds(orders.read, hub, refresh_s=60, min_gap_s=0)
    order_id = orders.add()
    first, second = Watcher(feeds, order_id), Watcher(feeds, order_id)
    watchers += [first, second]
    await all_saw(watchers, 1)
    first.task.cancel()
    await asyncio.gather(first.task, return_exceptions=True)
    assert len(feeds) == 1
    second.task.cancel()
    await asyncio.gather(second.task, return_exceptions=True)
    assert len(feeds) == 0

    async def unsubscribed() -> bool:
        return order_id not in hub._watchers

    await eventually(unsubscribed, timeout_s=5, interval_s=0.01, what="the feed left the hub")
    reads = orders.reads
    hub.notify(order_id)
    await asyncio.sleep(0.05)  # nothing must happen: give a (wrong) read the chance to run
    assert orders.reads == reads


async def test_watchers_end_with_the_final_status_and_the_feed_reads_no_more(
    orders: CountingOrders, hub: WatchHub, watchers: list[Watcher]
) -> None:
    feeds = OrderFeeds(orders.read, hub, refresh_s=0.05, min_gap_s=0)
    order_id = orders.add()
    watchers += [Watcher(feeds, order_id) for _ in range(10)]
    await all_saw(watchers, 1)
    orders.change(order_id, OrderStatus.CANCELLED)
    hub.notify(order_id)
    await asyncio.wait_for(asyncio.gather(*(w.task for w in watchers)), timeout=5)
    assert all(w.statuses[-1] is OrderStatus.CANCELLED for w in watchers)
    # A late watcher of a final order gets it at once from the same snapshot.
    reads = orders.reads
    late = Watcher(feeds, order_id)
    watchers.append(late)
    await asyncio.wait_for(late.task, timeout=5)
    assert late.statuses == [OrderStatus.CANCELLED]
    assert orders.reads <= reads + 1


async def test_a_stream_ends_at_its_lifetime_without_a_final_status(
    orders: CountingOrders, hub: WatchHub, watchers: list[Watcher]
) -> None:
    feeds = OrderFeeds(orders.read, hub, refresh_s=0.05, min_gap_s=0)
    order_id = orders.add()
    watcher = Watcher(feeds, order_id, lifetime_s=0.3)
    watchers.append(watcher)
    await asyncio.wait_for(watcher.task, timeout=5)
    assert watcher.statuses == [OrderStatus.PENDING]
    assert len(feeds) == 0


async def test_another_customers_order_is_not_found(orders: CountingOrders, hub: WatchHub) -> None:
    feeds = OrderFeeds(orders.read, hub, refresh_s=60, min_gap_s=0)
    theirs = orders.add(customer_id="c-other")
    stranger = Caller(principal_id="c-1", is_admin=False)
    loop = asyncio.get_running_loop()
    with pytest.raises(NotFound):
        await anext(follow(theirs, stranger, feeds, until=loop.time() + 5))
    with pytest.raises(NotFound):
        await anext(follow("o-missing", ADMIN, feeds, until=loop.time() + 5))


async def test_a_failed_read_ends_the_watchers_and_the_next_watcher_reads_afresh(
    orders: CountingOrders, hub: WatchHub, watchers: list[Watcher]
) -> None:
    feeds = OrderFeeds(orders.read, hub, refresh_s=60, min_gap_s=0)
    order_id = orders.add()
    watcher = Watcher(feeds, order_id)
    watchers.append(watcher)
    await all_saw([watcher], 1)
    orders.failing = ConnectionError("database away")
    hub.notify(order_id)
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(watcher.task, timeout=5)
    orders.failing = None
    keeper = Watcher(feeds, order_id)
    watchers.append(keeper)
    await all_saw([keeper], 1)
