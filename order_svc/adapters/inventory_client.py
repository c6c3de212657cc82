"""The order service's one synchronous dependency: inventory, for pricing and the pre-check.

Every call has a short deadline and goes through a circuit breaker. ``None`` means "inventory
did not answer": callers fall back (accept the order as PENDING, price from the replica).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import grpc

from mesh.breaker import CircuitBreaker, CircuitOpen
from mesh.money import from_proto
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from order_svc.domain.placement import CatalogEntry

log = logging.getLogger(__name__)
T = TypeVar("T")


class InventoryClient:
    def __init__(self, channel: grpc.aio.Channel, *, deadline_s: float, breaker: CircuitBreaker) -> None:
        self._stub = inventory_pb2_grpc.InventoryServiceStub(channel)
        self._deadline = deadline_s
        self._breaker = breaker

    async def available(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, int] | None:
        """Available units per known product, or None when inventory is away."""

        async def call() -> inventory_pb2.CheckStockResponse:
            return await self._stub.CheckStock(
                inventory_pb2.CheckStockRequest(product_ids=list(product_ids)),
                timeout=self._deadline,
                metadata=metadata,
            )

        response = await self._guarded(call)
        return None if response is None else dict(response.available)

    async def products(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, CatalogEntry] | None:
        """Catalog entries of the products that exist, or None when inventory is away."""

        async def fetch_one(product_id: str) -> CatalogEntry | None:
            try:
                response = await self._stub.GetProduct(
                    inventory_pb2.GetProductRequest(product_id=product_id), timeout=self._deadline, metadata=metadata
                )
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.NOT_FOUND:
                    return None
                raise
            product = response.product
            return CatalogEntry(
                product.product_id, product.name, from_proto(product.price), product.price.currency_code, product.active
            )

        async def call() -> dict[str, CatalogEntry]:
            entries = await asyncio.gather(*(fetch_one(p) for p in product_ids))
            return {entry.product_id: entry for entry in entries if entry is not None}

        return await self._guarded(call)

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T | None:
        try:
            return await self._breaker.call(call)
        except CircuitOpen:
            return None
        except grpc.aio.AioRpcError as exc:
            log.warning("inventory call failed", extra={"code": exc.code().name, "details": exc.details()})
            return None
