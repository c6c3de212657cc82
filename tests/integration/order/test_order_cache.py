"""GetOrder reads through Redis: never stale after a change, correct without Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from mesh.settings.common import RedisSettings
from mesh.storage.cache import Cache
from mesh.storage.engine import create_engine, session_factory
from order_svc.adapters.order_cache import RedisOrderCache
from order_svc.domain.customer import Customer
from order_svc.domain.placement import RequestedLine
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.lifecycle import change_status, get_order, transition
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Caller, Dependencies
from testkit.redis_server import PrivateRedis
from testkit.wait import eventually
from tests.integration.order.conftest import sql_dependencies

pytestmark = pytest.mark.integration
ADMIN = Caller("admin-1", is_admin=True)


@pytest.fixture
async def cached(database_factory, private_redis: PrivateRedis) -> AsyncIterator[tuple[Dependencies, Cache]]:  # type: ignore[no-untyped-def]
    engine = create_engine(await database_factory("order_svc"), pool_size=4)
    sessions = session_factory(engine)
    cache = Cache.from_settings(
        RedisSettings(url=private_redis.url, timeout_s=0.2),
        service="order_svc_test",
        key_prefix=f"t{uuid.uuid4().hex}:",
    )
    deps = sql_dependencies(sessions, RedisOrderCache(cache))
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-1", "Ada", "ada@example.com", ""))
        await uow.commit()
    yield deps, cache
    await cache.close()
    await engine.dispose()


async def test_a_read_after_a_change_never_returns_the_old_status(cached: tuple[Dependencies, Cache]) -> None:
    deps, _ = cached
    order = await place_order(PlaceOrder("c-1", [RequestedLine("p-1", 1)]), ADMIN, deps)
    assert (await get_order(order.order_id, ADMIN, deps)).status is OrderStatus.PENDING  # now cached
    for target in (OrderStatus.CONFIRMED, OrderStatus.PAID, OrderStatus.SHIPPED):
        await transition(order.order_id, target, "", deps)
        assert (await get_order(order.order_id, ADMIN, deps)).status is target


async def test_readers_racing_a_change_cannot_reinsert_the_old_status(cached: tuple[Dependencies, Cache]) -> None:
    deps, _ = cached
    order = await place_order(PlaceOrder("c-1", [RequestedLine("p-1", 1)]), ADMIN, deps)
    await transition(order.order_id, OrderStatus.CONFIRMED, "", deps)

    async def reader() -> None:
        for _ in range(30):
            await get_order(order.order_id, ADMIN, deps)

    readers = [asyncio.create_task(reader()) for _ in range(4)]
    changed = await change_status(order.order_id, OrderStatus.PAID, "", ADMIN, deps)
    await asyncio.gather(*readers)
    # Whatever the readers stored while the change was in flight, the next read is current.
    assert (await get_order(order.order_id, ADMIN, deps)).status is changed.status is OrderStatus.PAID


async def test_every_read_stays_correct_while_redis_is_away(
    cached: tuple[Dependencies, Cache], private_redis: PrivateRedis
) -> None:
    deps, _ = cached
    order = await place_order(PlaceOrder("c-1", [RequestedLine("p-1", 2)]), ADMIN, deps)
    await get_order(order.order_id, ADMIN, deps)

    await private_redis.stop()
    await transition(order.order_id, OrderStatus.CONFIRMED, "", deps)  # its eviction cannot reach Redis
    assert (await get_order(order.order_id, ADMIN, deps)).status is OrderStatus.CONFIRMED

    await private_redis.start()
    hits_before = _hits()

    async def read() -> OrderStatus:
        return (await get_order(order.order_id, ADMIN, deps)).status

    # The cache skips Redis briefly after an error; within a few seconds reads are hits again.
    await eventually(read, until=lambda status: _hits() > hits_before, timeout_s=10, what="cache hits to resume")
    assert await read() is OrderStatus.CONFIRMED


def _hits() -> float:
    from prometheus_client import REGISTRY

    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "oms_cache_hits"
        for sample in metric.samples
        if sample.labels.get("service") == "order_svc_test" and sample.name.endswith("_total")
    )
