"""Cache eviction tied to the unit of work: after commit, before the caller returns."""

from __future__ import annotations

from collections.abc import Iterable

from inventory_svc.adapters.catalog_cache import CatalogCache
from inventory_svc.service_layer.unit_of_work import InventoryUnitOfWork


def evict_after_commit(uow: InventoryUnitOfWork, cache: CatalogCache, product_ids: Iterable[str]) -> None:
    # Evicting before commit would let a concurrent reader cache the old row again.
    ids = list(product_ids)

    async def evict() -> None:
        await cache.evict(ids)

    uow.after_commit(evict)
