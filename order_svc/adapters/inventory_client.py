"""The order service's one synchronous dependency: inventory, for pricing and the pre-check.

Every call has a short deadline and goes through a circuit breaker. ``None`` means "inventory
did not answer": callers fall back (accept the order as PENDING, price from the replica).

Only inventory's own failures count towards the breaker (it is unreachable, too slow, or
broke: UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN). An answer that refuses the request
(INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, ...) proves inventory is up: it is the
caller's problem and must never open the breaker every other customer depends on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import grpc

from mesh.resilience.breaker import CircuitBreaker, CircuitOpen
from mesh.serving.errors import InvalidArgument
from mesh.serving.wire import minor_units
from mesh.values.violations import FieldViolation
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from order_svc.domain.placement import CatalogEntry

# What the channel to inventory serves: its retry policy is read from these contracts.
INVENTORY_SERVICES = (inventory_pb2.DESCRIPTOR.services_by_name["InventoryService"],)

log = logging.getLogger(__name__)
T = TypeVar("T")

# The codes that mean "inventory itself is in trouble"; any other answer is about the request.
INVENTORY_FAULTS = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
)
# BatchGetProducts takes at most this many ids per call (its request bound).
BATCH_LIMIT = 100


@dataclass(frozen=True)
class _Refused:
    """Inventory answered, refusing the request: a healthy answer as far as the breaker goes."""

    error: grpc.aio.AioRpcError


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
        """Catalog entries of the products that exist, or None when inventory is away.

        One BatchGetProducts call (an order has at most 100 lines) under one deadline; unknown
        ids are simply absent from the result.
        """
        wanted = list(dict.fromkeys(product_ids))
        if not wanted:
            return {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._deadline

        async def fetch(chunk: list[str]) -> inventory_pb2.BatchGetProductsResponse:
            return await self._stub.BatchGetProducts(
                inventory_pb2.BatchGetProductsRequest(product_ids=chunk),
                timeout=max(deadline - loop.time(), 0.001),
                metadata=metadata,
            )

        async def call() -> list[inventory_pb2.BatchGetProductsResponse]:
            chunks = [wanted[i : i + BATCH_LIMIT] for i in range(0, len(wanted), BATCH_LIMIT)]
            return list(await asyncio.gather(*(fetch(chunk) for chunk in chunks)))

        responses = await self._guarded(call)
        if responses is None:
            return None
        return {
            product.product_id: CatalogEntry(
                product.product_id,
                product.name,
                minor_units(product.price),
                product.price.currency_code,
                product.active,
            )
            for response in responses
            for product in response.products
        }

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T | None:
        async def attempt() -> T | _Refused:
            try:
                return await call()
            except grpc.aio.AioRpcError as exc:
                if exc.code() in INVENTORY_FAULTS:
                    raise  # counts towards the breaker
                return _Refused(exc)

        try:
            outcome = await self._breaker.call(attempt)
        except CircuitOpen:
            return None
        except grpc.aio.AioRpcError as exc:
            log.warning("inventory call failed", extra={"code": exc.code().name, "details": exc.details()})
            return None
        if isinstance(outcome, _Refused):
            _raise_for_caller_input(outcome.error)
            return None  # not the caller's input (e.g. their token): fall back as when away
        return outcome


def _raise_for_caller_input(error: grpc.aio.AioRpcError) -> None:
    log.warning("inventory refused a call", extra={"code": error.code().name})
    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
        # Inventory's own field names mean nothing to the order's caller; the lines are at fault.
        raise InvalidArgument([FieldViolation("items", "the catalog refused these product ids")])
