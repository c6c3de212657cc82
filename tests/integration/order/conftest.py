"""Order service on a real database, with its inventory port faked in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest

from mesh.messaging.kafka import Topics
from mesh.storage.engine import create_engine, session_factory
from order_svc.domain.placement import CatalogEntry
from order_svc.service_layer.ports import NoOrderCache, OrderDeps, OrderUnitOfWork


class FakeInventory:
    """The order service's inventory port, in memory."""

    def __init__(self, catalog: dict[str, CatalogEntry]) -> None:
        self.catalog = catalog

    async def available(self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()) -> None:
        return None  # "inventory did not answer": the saga decides

    async def products(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, CatalogEntry]:
        return {p: self.catalog[p] for p in product_ids if p in self.catalog}


@pytest.fixture
async def deps(database_factory: Callable[[str], Awaitable[str]]) -> AsyncIterator[OrderDeps]:
    engine = create_engine(await database_factory("order_svc"), pool_size=2)
    sessions = session_factory(engine)
    yield OrderDeps(
        uow=lambda: OrderUnitOfWork(sessions),
        topics=Topics("t."),
        inventory=FakeInventory({"p-1": CatalogEntry("p-1", "Widget", 250, "EUR", True)}),
        cache=NoOrderCache(),
    )
    await engine.dispose()
