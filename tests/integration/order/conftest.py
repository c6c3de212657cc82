"""Order service on a real database, with its inventory port faked in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mesh.messaging.kafka import Topics
from mesh.storage.engine import create_engine, session_factory
from order_svc.adapters.metrics import PrometheusMetrics
from order_svc.adapters.order_cache import NoOrderCache
from order_svc.adapters.price_book import PriceBook
from order_svc.adapters.unit_of_work import SqlUnitOfWork
from order_svc.domain.placement import CatalogEntry
from order_svc.service_layer.ports import Dependencies, OrderCache


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


def sql_dependencies(sessions: async_sessionmaker[AsyncSession], cache: OrderCache | None = None) -> Dependencies:
    """The real units of work, metrics and price book on ``sessions``; inventory faked (one product)."""
    topics = Topics("t.")
    return Dependencies(
        uow=lambda: SqlUnitOfWork(sessions, topics),
        inventory=FakeInventory({"p-1": CatalogEntry("p-1", "Widget", 250, "EUR", True)}),
        cache=cache or NoOrderCache(),
        price_book=PriceBook(),
        metrics=PrometheusMetrics(),
    )


@pytest.fixture
async def deps(database_factory: Callable[[str], Awaitable[str]]) -> AsyncIterator[Dependencies]:
    engine = create_engine(await database_factory("order_svc"), pool_size=2)
    yield sql_dependencies(session_factory(engine))
    await engine.dispose()
