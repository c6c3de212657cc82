"""Orders in Redis, as protobuf bytes (the cache is never the source of truth).

Each order's entry is keyed under a namespace token that a change replaces after it commits.
A reader takes the token *before* it reads the database, so a reader that raced a change
stores what it read under the old token, which nobody reads any more: no client is ever
served a status older than one it was already told.
"""

from __future__ import annotations

from datetime import UTC

from mesh.serving.wire import minor_units
from mesh.storage.cache import Cache
from oms.order.v1 import order_pb2
from order_svc.adapters.proto_mapping import STATUS_FROM_PROTO, order_to_proto
from order_svc.domain.model import Order, OrderLine, Shortfall
from order_svc.service_layer.ports import OrderLoader


class NoOrderCache:
    """No cache: every read goes to the database (tests, and a process without Redis)."""

    async def read_through(self, order_id: str, load: OrderLoader) -> Order | None:
        return await load()

    async def evict(self, order_id: str) -> None:
        return None


class RedisOrderCache:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    async def read_through(self, order_id: str, load: OrderLoader) -> Order | None:
        token = await self._cache.namespace_token(_namespace(order_id))
        if token is None:  # Redis unavailable: straight to the database
            return await load()
        key = f"{_namespace(order_id)}:{token}"
        raw = await self._cache.get(key)
        if raw is not None:
            return _from_proto(order_pb2.Order.FromString(raw))
        order = await load()
        if order is not None:
            await self._cache.set(key, order_to_proto(order).SerializeToString())
        return order

    async def evict(self, order_id: str) -> None:
        await self._cache.bump(_namespace(order_id))


def _namespace(order_id: str) -> str:
    return f"order:{order_id}"


def _from_proto(message: order_pb2.Order) -> Order:
    return Order(
        order_id=message.order_id,
        customer_id=message.customer_id,
        currency=message.total.currency_code,
        lines=[
            OrderLine(item.product_id, item.quantity, item.product_name, minor_units(item.unit_price))
            for item in message.items
        ],
        status=STATUS_FROM_PROTO[message.status],
        status_reason=message.status_reason,
        shortfalls=[Shortfall(s.product_id, s.requested, s.available) for s in message.shortfalls],
        created_at=message.create_time.ToDatetime(tzinfo=UTC) if message.HasField("create_time") else None,
        updated_at=message.update_time.ToDatetime(tzinfo=UTC) if message.HasField("update_time") else None,
        version=message.version,
    )
