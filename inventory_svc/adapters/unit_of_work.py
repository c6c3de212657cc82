"""The SQL unit of work: mesh's transaction (outbox, inbox, after-commit) with the inventory's
repositories bound to its session and its domain events mapped to outbox rows."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inventory_svc.adapters.event_mapping import to_outgoing
from inventory_svc.adapters.sql_products import SqlProductRepository
from inventory_svc.adapters.sql_reservations import SqlReservationRepository
from inventory_svc.adapters.sql_stock import SqlStockRepository
from inventory_svc.domain.events import Event
from inventory_svc.service_layer.ports import AfterCommit
from mesh.messaging.kafka import Topics
from mesh.messaging.outbox import claim_event
from mesh.storage import unit_of_work

# The inbox name under which this service records the events it applied.
CONSUMER = "inventory-svc"


class SqlUnitOfWork:
    """Implements service_layer.ports.UnitOfWork; composes (does not extend) mesh's UnitOfWork."""

    products: SqlProductRepository
    stock: SqlStockRepository
    reservations: SqlReservationRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession], topics: Topics) -> None:
        self._uow = unit_of_work.UnitOfWork(sessions)
        self._topics = topics

    async def __aenter__(self) -> Self:
        await self._uow.__aenter__()
        session = self._uow.session
        self.products = SqlProductRepository(session)
        self.stock = SqlStockRepository(session)
        self.reservations = SqlReservationRepository(session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._uow.__aexit__(exc_type, exc, tb)

    def publish(self, *events: Event) -> None:
        self._uow.publish(*(to_outgoing(event, self._topics) for event in events))

    async def claim(self, event_id: str) -> bool:
        return await claim_event(self._uow.session, CONSUMER, event_id)

    def after_commit(self, callback: AfterCommit) -> None:
        self._uow.after_commit(callback)

    async def commit(self) -> None:
        await self._uow.commit()
