"""Placement asks inventory for all of an order's products in one call under one deadline, and a
caller's unknown products (or malformed ids) never count towards the circuit breaker.

The order side is real (place_order, InventoryClient, CircuitBreaker, PriceBook); inventory is
a fake servicer on an in-process gRPC port, so status codes and deadlines are real gRPC ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast

import grpc
import pytest

from mesh.resilience.breaker import CircuitBreaker
from mesh.serving.errors import FailedPrecondition, InvalidArgument
from mesh.serving.wire import money
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from order_svc.adapters.inventory_client import InventoryClient
from order_svc.adapters.metrics import PrometheusMetrics
from order_svc.adapters.order_cache import NoOrderCache
from order_svc.adapters.price_book import PriceBook
from order_svc.domain.placement import CatalogEntry, RequestedLine
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Caller, Dependencies

ADMIN = Caller("admin-1", is_admin=True)
THRESHOLD = 5


class FakeInventory(inventory_pb2_grpc.InventoryServiceServicer):
    """Knows ``products`` (all out of stock); ``fail_with`` makes every call fail with that code."""

    def __init__(self) -> None:
        self.products: dict[str, inventory_pb2.Product] = {}
        self.calls: list[tuple[str, list[str]]] = []
        self.fail_with: grpc.StatusCode | None = None

    def add(self, product_id: str) -> None:
        self.products[product_id] = inventory_pb2.Product(
            product_id=product_id, name=product_id, price=money(250, "EUR"), active=True
        )

    async def _maybe_fail(self, context: grpc.aio.ServicerContext) -> None:
        if self.fail_with is not None:
            await context.abort(self.fail_with, "fake inventory says no")

    async def BatchGetProducts(
        self, request: inventory_pb2.BatchGetProductsRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.BatchGetProductsResponse:
        self.calls.append(("BatchGetProducts", list(request.product_ids)))
        await self._maybe_fail(context)
        return inventory_pb2.BatchGetProductsResponse(
            products=[self.products[p] for p in request.product_ids if p in self.products],
            missing_product_ids=[p for p in request.product_ids if p not in self.products],
        )

    async def GetProduct(
        self, request: inventory_pb2.GetProductRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.GetProductResponse:
        self.calls.append(("GetProduct", [request.product_id]))
        await context.abort(grpc.StatusCode.NOT_FOUND, "placement must not fan out")
        raise AssertionError  # abort raises

    async def CheckStock(
        self, request: inventory_pb2.CheckStockRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.CheckStockResponse:
        self.calls.append(("CheckStock", list(request.product_ids)))
        await self._maybe_fail(context)
        known = [p for p in request.product_ids if p in self.products]
        return inventory_pb2.CheckStockResponse(available={p: 0 for p in known})

    def count(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)


@dataclass
class FakeCatalog:
    entries: dict[str, CatalogEntry] = field(default_factory=dict)

    async def get_many(self, product_ids: Sequence[str]) -> dict[str, CatalogEntry]:
        return {p: self.entries[p] for p in product_ids if p in self.entries}

    async def upsert(self, entries: Sequence[CatalogEntry]) -> None:
        self.entries |= {e.product_id: e for e in entries}


class FakeUnitOfWork:
    """Only the catalog replica: these orders never get as far as being written."""

    def __init__(self, catalog: FakeCatalog) -> None:
        self.catalog = catalog

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None

    async def commit(self) -> None:
        return None


@dataclass
class Placement:
    inventory: FakeInventory
    breaker: CircuitBreaker
    deps: Dependencies


@pytest.fixture
async def placement() -> AsyncIterator[Placement]:
    inventory = FakeInventory()  # type: ignore[abstract]  # only what placement calls
    server = grpc.aio.server()
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(inventory, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    breaker = CircuitBreaker(failure_threshold=THRESHOLD, reset_after_s=60)
    catalog = FakeCatalog()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        deps = Dependencies(
            uow=cast(Any, lambda: FakeUnitOfWork(catalog)),
            inventory=InventoryClient(channel, deadline_s=2.0, breaker=breaker),
            cache=NoOrderCache(),
            # Nothing is remembered: every order asks inventory again.
            price_book=PriceBook(max_age_s=1e-9),
            metrics=PrometheusMetrics(),
        )
        yield Placement(inventory, breaker, deps)
    await server.stop(None)


def order(*product_ids: str) -> PlaceOrder:
    return PlaceOrder(customer_id="c-1", lines=[RequestedLine(p, 1) for p in product_ids])


async def test_an_order_of_100_lines_is_priced_with_one_call(placement: Placement) -> None:
    ids = [f"p-{i:03d}" for i in range(100)]
    for product_id in ids:
        placement.inventory.add(product_id)
    # All out of stock: the pre-check refuses, so nothing needs writing.
    with pytest.raises(FailedPrecondition):
        await place_order(order(*ids), ADMIN, placement.deps)
    assert placement.inventory.count("BatchGetProducts") == 1
    assert placement.inventory.calls[0] == ("BatchGetProducts", ids)
    assert placement.inventory.count("GetProduct") == 0
    assert placement.inventory.count("CheckStock") == 1


async def test_unknown_products_are_named_by_line_and_never_open_the_breaker(placement: Placement) -> None:
    placement.inventory.add("p-known")
    for attempt in range(50):
        unknown = [f"nope-{attempt}-{i}" for i in range(3)]
        with pytest.raises(InvalidArgument) as raised:
            await place_order(order("p-known", *unknown), ADMIN, placement.deps)
        assert [v.field for v in raised.value.violations] == [f"items[{i}].product_id" for i in (1, 2, 3)]
        assert all(v.description == "no such product" for v in raised.value.violations)
    assert placement.breaker.state == "closed"
    assert placement.inventory.count("BatchGetProducts") == 50
    # An honest order still reaches inventory's pre-check (an open breaker would skip it and
    # accept the order as PENDING).
    with pytest.raises(FailedPrecondition) as short:
        await place_order(order("p-known"), ADMIN, placement.deps)
    assert short.value.reason == "INSUFFICIENT_STOCK"


async def test_an_order_naming_100_unknown_products_is_refused_with_a_bounded_error(placement: Placement) -> None:
    with pytest.raises(InvalidArgument) as raised:
        await place_order(order(*(f"x{i}-" + "y" * 120 for i in range(100))), ADMIN, placement.deps)
    violations = raised.value.violations
    assert [v.field for v in violations[:10]] == [f"items[{i}].product_id" for i in range(10)]
    assert (violations[10].field, violations[10].description) == ("items", "90 more problems with the items not listed")
    assert len(str(raised.value)) < 200
    assert placement.inventory.count("BatchGetProducts") == 1
    assert placement.breaker.state == "closed"


async def test_inventory_refusing_the_ids_is_invalid_argument_and_not_a_fault(placement: Placement) -> None:
    placement.inventory.fail_with = grpc.StatusCode.INVALID_ARGUMENT
    for _ in range(THRESHOLD * 2):
        with pytest.raises(InvalidArgument) as raised:
            await place_order(order("p-1"), ADMIN, placement.deps)
        assert raised.value.violations[0].field == "items"
    assert placement.breaker.state == "closed"


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED]
)
async def test_inventory_faults_do_open_the_breaker(placement: Placement, code: grpc.StatusCode) -> None:
    # The control: the breaker is live, it just ignores the caller's mistakes.
    placement.inventory.add("p-1")
    placement.inventory.fail_with = code
    for _ in range(THRESHOLD):
        assert await placement.deps.inventory.products(["p-1"]) is None
    assert placement.breaker.state == "open"
    calls = len(placement.inventory.calls)
    assert await placement.deps.inventory.products(["p-1"]) is None
    assert len(placement.inventory.calls) == calls  # refused without calling


async def test_one_deadline_covers_the_whole_lookup(placement: Placement) -> None:
    class Slow(FakeInventory):
        async def BatchGetProducts(self, request: Any, context: Any) -> Any:
            await asyncio.sleep(5)
            return await super().BatchGetProducts(request, context)

    server = grpc.aio.server()
    slow = Slow()  # type: ignore[abstract]
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(slow, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            client = InventoryClient(channel, deadline_s=0.2, breaker=CircuitBreaker())
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await client.products([f"p-{i}" for i in range(100)]) is None
            assert loop.time() - started < 1.5
    finally:
        await server.stop(None)


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.RESOURCE_EXHAUSTED]
)
async def test_other_refusals_fall_back_without_counting(placement: Placement, code: grpc.StatusCode) -> None:
    placement.inventory.fail_with = code
    for _ in range(THRESHOLD * 2):
        assert await placement.deps.inventory.products(["p-1"]) is None  # priced from the replica
    assert placement.breaker.state == "closed"
    assert placement.inventory.count("BatchGetProducts") == THRESHOLD * 2
