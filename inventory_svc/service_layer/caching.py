"""The catalog cache around the unit of work: read-through reads, eviction after commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from inventory_svc.service_layer.errors import product_not_found, require_id
from inventory_svc.service_layer.ports import CatalogCache, Dependencies, Slot, UnitOfWork

T = TypeVar("T")


def evict_after_commit(uow: UnitOfWork, cache: CatalogCache, product_ids: Iterable[str]) -> None:
    # Evicting before commit would let a concurrent reader cache the old row again.
    ids = list(product_ids)

    async def evict() -> None:
        await cache.evict(ids)

    uow.after_commit(evict)


async def read_through(
    product_id: str,
    deps: Dependencies,
    *,
    slot_of: Callable[[str], Awaitable[Slot | None]],
    cached: Callable[[Slot], Awaitable[T | None]],
    store: Callable[[Slot, T], Awaitable[None]],
    load: Callable[[UnitOfWork, str], Awaitable[T | None]],
) -> T:
    """One product's entry (its product or its stock): from the cache, else from the database
    (then cached). The slot is taken before the read, so a change committed meanwhile leaves
    what this read stores where nobody looks any more."""
    require_id(product_id)
    slot = await slot_of(product_id)
    if slot is not None and (hit := await cached(slot)) is not None:
        return hit
    async with deps.uow() as uow:
        found = await load(uow, product_id)
    if found is None:
        raise product_not_found(product_id)
    if slot is not None:
        await store(slot, found)
    return found
