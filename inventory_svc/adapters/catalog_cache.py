"""Read-through cache of products, stock levels and product pages (Redis via mesh.storage.cache).

Entries live under namespace tokens: one per product (its product and stock entries) and one
for all pages. A change bumps the tokens after commit, so the next read misses. A reader that
raced with the change stores what it read under the token it saw before reading the database,
which nobody looks up any more: a stale value can never be stored where readers look.
"""

from __future__ import annotations

import hashlib

from inventory_svc.adapters.proto import product_from_pb, product_to_pb, stock_from_pb, stock_to_pb
from inventory_svc.domain.model import Product, StockLevel
from inventory_svc.domain.paging import ProductQuery
from inventory_svc.service_layer.ports import ProductPage, Slot
from mesh.storage.cache import Cache
from oms.inventory.v1 import inventory_pb2

PAGES = "pages"


class RedisCatalogCache:
    """Implements service_layer.ports.CatalogCache on mesh.storage.cache (Redis)."""

    def __init__(self, cache: Cache) -> None:
        self._cache = cache

    async def _slot(self, namespace: str, kind: str, name: str) -> Slot | None:
        token = await self._cache.namespace_token(namespace)
        return Slot(f"{kind}:{name}:{token}") if token else None

    async def product_slot(self, product_id: str) -> Slot | None:
        return await self._slot(f"p:{product_id}", "product", product_id)

    async def stock_slot(self, product_id: str) -> Slot | None:
        return await self._slot(f"p:{product_id}", "stock", product_id)

    async def page_slot(self, query: ProductQuery, page_token: str, size: int) -> Slot | None:
        digest = hashlib.sha256(f"{query.fingerprint()}|{page_token}|{size}".encode()).hexdigest()[:24]
        return await self._slot(PAGES, "page", digest)

    async def get_product(self, slot: Slot) -> Product | None:
        raw = await self._cache.get(slot.key)
        return product_from_pb(inventory_pb2.Product.FromString(raw)) if raw else None

    async def put_product(self, slot: Slot, product: Product) -> None:
        await self._cache.set(slot.key, product_to_pb(product).SerializeToString())

    async def get_stock(self, slot: Slot) -> StockLevel | None:
        raw = await self._cache.get(slot.key)
        return stock_from_pb(inventory_pb2.Stock.FromString(raw)) if raw else None

    async def put_stock(self, slot: Slot, level: StockLevel) -> None:
        await self._cache.set(slot.key, stock_to_pb(level).SerializeToString())

    async def get_page(self, slot: Slot) -> ProductPage | None:
        raw = await self._cache.get(slot.key)
        if raw is None:
            return None
        message = inventory_pb2.ListProductsResponse.FromString(raw)
        return ProductPage([product_from_pb(p) for p in message.products], message.next_page_token)

    async def put_page(self, slot: Slot, page: ProductPage) -> None:
        message = inventory_pb2.ListProductsResponse(
            products=[product_to_pb(p) for p in page.products], next_page_token=page.next_page_token
        )
        await self._cache.set(slot.key, message.SerializeToString())

    async def evict(self, product_ids: list[str]) -> None:
        for product_id in sorted(set(product_ids)):
            await self._cache.bump(f"p:{product_id}")
        await self._cache.bump(PAGES)
