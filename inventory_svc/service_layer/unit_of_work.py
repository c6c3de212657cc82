"""The unit of work the handlers use: repositories, events, claim, after-commit callbacks."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from inventory_svc.adapters.event_mapping import to_outgoing
from inventory_svc.adapters.repository import ProductRepository, ReservationRepository, StockRepository
from inventory_svc.adapters.sql_products import SqlProductRepository
from inventory_svc.adapters.sql_reservations import SqlReservationRepository
from inventory_svc.adapters.sql_stock import SqlStockRepository
from inventory_svc.domain.events import Event
from mesh.messaging.kafka import Topics
from mesh.messaging.outbox import claim_event
from mesh.storage.unit_of_work import UnitOfWork

# The inbox name under which this service records the events it applied.
CONSUMER = "inventory-svc"


class InventoryUnitOfWork(abc.ABC):
    """``async with uow:`` is one transaction; it rolls back unless ``commit()`` was awaited.

    One instance serves one handler call at a time (it may be entered again afterwards).
    """

    products: ProductRepository
    stock: StockRepository
    reservations: ReservationRepository

    @abc.abstractmethod
    async def __aenter__(self) -> Self: ...

    @abc.abstractmethod
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    @abc.abstractmethod
    def publish(self, *events: Event) -> None:
        """Stages events; they are published only if the transaction commits."""

    @abc.abstractmethod
    async def claim(self, event_id: str) -> bool:
        """Records the consumed event in the inbox; False when it was applied before."""

    @abc.abstractmethod
    def after_commit(self, callback: Callable[[], Awaitable[object]]) -> None: ...

    @abc.abstractmethod
    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], InventoryUnitOfWork]


class SqlUnitOfWork(InventoryUnitOfWork):
    def __init__(self, sessions: async_sessionmaker[AsyncSession], topics: Topics) -> None:
        self._uow = UnitOfWork(sessions)
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

    def after_commit(self, callback: Callable[[], Awaitable[object]]) -> None:
        self._uow.after_commit(callback)

    async def commit(self) -> None:
        await self._uow.commit()
