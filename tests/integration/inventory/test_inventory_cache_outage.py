"""Redis is only a cache: every RPC stays correct while it is away, and caching comes back."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from inventory_svc.bootstrap import SERVICE
from oms.inventory.v1 import inventory_pb2 as pb
from testkit.processes import free_port
from testkit.redis_server import PrivateRedis
from testkit.wait import eventually
from tests.integration.inventory.conftest import AppFactory
from tests.integration.inventory.helpers import cache_hits, new_product, unique

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from oms.inventory.v1.inventory_pb2_grpc import InventoryServiceAsyncStub as Stub
    from tests.integration.inventory.helpers import InventoryApp

pytestmark = pytest.mark.integration


def cache_errors() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "oms_cache_errors":
            total += sum(
                s.value for s in metric.samples if s.labels.get("service") == SERVICE and s.name.endswith("_total")
            )
    return total


async def _exercise_every_rpc(stub: Stub) -> None:
    """Each RPC, with reads after writes that must see the write."""
    product_id = (await stub.CreateProduct(new_product(unique("p"), name="Outage test"))).product.product_id
    get = pb.GetProductRequest(product_id=product_id)
    assert (await stub.GetProduct(get)).product.available_quantity == 0
    stock = (await stub.AddStock(pb.AddStockRequest(product_id=product_id, quantity=5))).stock
    assert (await stub.GetProduct(get)).product.available_quantity == 5
    assert (await stub.GetStock(pb.GetStockRequest(product_id=product_id))).stock.quantity == 5
    audited = await stub.AuditStock(
        pb.AuditStockRequest(product_id=product_id, quantity=4, expected_version=stock.version)
    )
    assert (await stub.GetStock(pb.GetStockRequest(product_id=product_id))).stock == audited.stock
    checked = await stub.CheckStock(pb.CheckStockRequest(product_ids=[product_id]))
    assert dict(checked.available) == {product_id: 4}
    renamed = pb.Product(product_id=product_id, name="Outage test renamed")
    await stub.UpdateProduct(pb.UpdateProductRequest(product=renamed))
    listed = await stub.ListProducts(pb.ListProductsRequest(name_contains="Outage test", page_size=500))
    assert {p.product_id: p.name for p in listed.products}[product_id] == "Outage test renamed"
    await stub.DeleteProduct(pb.DeleteProductRequest(product_id=product_id))
    listed = await stub.ListProducts(pb.ListProductsRequest(name_contains="Outage test", page_size=500))
    assert product_id not in {p.product_id for p in listed.products}


async def test_every_rpc_works_with_redis_on_a_closed_port(
    make_inventory: AppFactory, stub_for: Callable[[InventoryApp], Awaitable[Stub]]
) -> None:
    app = await make_inventory(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    stub = await stub_for(app)
    errors = cache_errors()
    await _exercise_every_rpc(stub)
    assert cache_errors() > errors


async def test_redis_stopped_and_restarted(
    make_inventory: AppFactory, stub_for: Callable[[InventoryApp], Awaitable[Stub]], private_redis: PrivateRedis
) -> None:
    app = await make_inventory(redis_url=private_redis.url, breaker_s=0.3)
    stub = await stub_for(app)
    product_id = (await stub.CreateProduct(new_product(unique("p")))).product.product_id
    get = pb.GetProductRequest(product_id=product_id)
    hits = cache_hits()
    await stub.GetProduct(get)
    await stub.GetProduct(get)
    assert cache_hits() > hits, "the cache was never used"

    await private_redis.stop()
    errors = cache_errors()
    await _exercise_every_rpc(stub)
    await stub.AddStock(pb.AddStockRequest(product_id=product_id, quantity=3))
    assert (await stub.GetProduct(get)).product.available_quantity == 3
    assert cache_errors() > errors

    await private_redis.start()

    async def hit_again() -> float:
        before = cache_hits()
        assert (await stub.GetProduct(get)).product.available_quantity == 3
        return cache_hits() - before

    await eventually(hit_again, until=lambda gained: gained > 0, what="cache hits after Redis came back")


async def test_evictions_missed_during_a_stall_are_replayed(
    make_inventory: AppFactory, stub_for: Callable[[InventoryApp], Awaitable[Stub]], private_redis: PrivateRedis
) -> None:
    """Redis keeps its data but stops answering for a while: the stale entry must never be served."""
    app = await make_inventory(redis_url=private_redis.url, breaker_s=0.3)
    stub = await stub_for(app)
    product_id = (await stub.CreateProduct(new_product(unique("p")))).product.product_id
    get = pb.GetProductRequest(product_id=product_id)
    await stub.GetProduct(get)
    hits = cache_hits()
    assert (await stub.GetProduct(get)).product.available_quantity == 0
    assert cache_hits() > hits

    admin = Redis.from_url(private_redis.url)
    try:
        await admin.client_pause(1500, all=True)
        # Its eviction times out: the cached product (0 available) stays in Redis.
        await stub.AddStock(pb.AddStockRequest(product_id=product_id, quantity=9))
        assert (await stub.GetProduct(get)).product.available_quantity == 9
    finally:
        with contextlib.suppress(Exception):
            await admin.client_unpause()
        await admin.aclose()

    async def fresh_hit() -> float:
        before = cache_hits()
        assert (await stub.GetProduct(get)).product.available_quantity == 9, "stale value served"
        return cache_hits() - before

    await eventually(fresh_hit, until=lambda gained: gained > 0, what="fresh cache hits after the stall")
