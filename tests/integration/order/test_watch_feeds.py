"""WatchOrder's shared feeds on the real database: the NOTIFY trigger and LISTEN hub wake one
read per change for all of an order's watchers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from mesh.storage.engine import asyncpg_dsn, create_engine, session_factory
from order_svc.adapters.watch_hub import WatchHub
from order_svc.domain.customer import Customer
from order_svc.domain.model import Order
from order_svc.domain.placement import RequestedLine
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.lifecycle import read_order, transition
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Caller, Dependencies
from order_svc.service_layer.watching import OrderFeeds, follow
from testkit.wait import eventually
from tests.integration.order.conftest import sql_dependencies

pytestmark = pytest.mark.integration
ADMIN = Caller("admin-1", is_admin=True)
WATCHERS = 100


@dataclass
class Watched:
    deps: Dependencies
    feeds: OrderFeeds
    reads: list[str]


@pytest.fixture
async def watched(database_factory: Callable[[str], Awaitable[str]]) -> AsyncIterator[Watched]:
    url = await database_factory("order_svc")
    engine = create_engine(url, pool_size=4)
    sessions = session_factory(engine)
    deps = sql_dependencies(sessions)
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-1", "Ada", "ada@example.com", ""))
        await uow.commit()
    reads: list[str] = []

    async def counted(order_id: str) -> Order | None:
        reads.append(order_id)
        return await read_order(order_id, deps)

    hub = WatchHub(asyncpg_dsn(url))
    stop = asyncio.Event()
    listening = asyncio.create_task(hub.run(stop))
    try:
        yield Watched(deps, OrderFeeds(counted, hub, refresh_s=60), reads)
    finally:
        stop.set()
        await asyncio.wait_for(listening, 10)
        await engine.dispose()


async def test_a_hundred_watchers_share_one_read_per_committed_change(watched: Watched) -> None:
    order = await place_order(PlaceOrder("c-1", [RequestedLine("p-1", 1)]), ADMIN, watched.deps)
    seen: list[list[OrderStatus]] = [[] for _ in range(WATCHERS)]

    async def watch(statuses: list[OrderStatus]) -> None:
        loop = asyncio.get_running_loop()
        async for update in follow(order.order_id, ADMIN, watched.feeds, until=loop.time() + 60):
            statuses.append(update.status)

    tasks = [asyncio.create_task(watch(statuses)) for statuses in seen]
    try:

        async def everyone_at(status: OrderStatus) -> bool:
            return all(s and s[-1] is status for s in seen)

        await eventually(lambda: everyone_at(OrderStatus.PENDING), timeout_s=10, what="every watcher at PENDING")
        before = len(watched.reads)
        for status in (OrderStatus.CONFIRMED, OrderStatus.CANCELLED):
            await transition(order.order_id, status, "", watched.deps)
            await eventually(lambda s=status: everyone_at(s), timeout_s=10, what=f"every watcher at {status}")
        await asyncio.wait_for(asyncio.gather(*tasks), 10)  # CANCELLED is final: the streams end
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
    # One read to start (plus one if the hub connected after, waking every feed), then one per
    # change: never one per watcher.
    assert before <= 2
    assert len(watched.reads) - before <= 2 + 1  # CONFIRMED, CANCELLED (+ a coalescing spare)
    assert set(watched.reads) == {order.order_id}
