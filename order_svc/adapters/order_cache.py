"""Orders in Redis, as protobuf bytes (the cache is never the source of truth)."""

from __future__ import annotations

from datetime import UTC as _UTC

from mesh import money
from mesh.cache import Cache
from oms.order.v1 import order_pb2
from order_svc.adapters.proto_mapping import STATUS_FROM_PROTO, order_to_proto
from order_svc.domain.model import Order, OrderLine, Shortfall


class RedisOrderCache:
    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    async def get(self, order_id: str) -> Order | None:
        raw = await self._cache.get(_key(order_id))
        return None if raw is None else _from_proto(order_pb2.Order.FromString(raw))

    async def put(self, order: Order) -> None:
        await self._cache.set(_key(order.order_id), order_to_proto(order).SerializeToString())

    async def evict(self, order_id: str) -> None:
        await self._cache.delete(_key(order_id))


def _key(order_id: str) -> str:
    return f"order:{order_id}"


def _from_proto(message: order_pb2.Order) -> Order:
    return Order(
        order_id=message.order_id,
        customer_id=message.customer_id,
        currency=message.total.currency_code,
        lines=[
            OrderLine(item.product_id, item.quantity, item.product_name, money.from_proto(item.unit_price))
            for item in message.items
        ],
        status=STATUS_FROM_PROTO[message.status],
        status_reason=message.status_reason,
        shortfalls=[Shortfall(s.product_id, s.requested, s.available) for s in message.shortfalls],
        created_at=message.create_time.ToDatetime(tzinfo=_UTC) if message.HasField("create_time") else None,
        updated_at=message.update_time.ToDatetime(tzinfo=_UTC) if message.HasField("update_time") else None,
        version=message.version,
    )
