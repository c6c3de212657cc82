"""The order service's unit of work on PostgreSQL (``service_layer.ports.UnitOfWork``).

It composes mesh's transaction (outbox, inbox, after-commit callbacks, the transaction span)
and binds the SQL repositories to that transaction once, when it begins. At commit it collects
the domain events of the orders stored through ``orders`` (and clears them: this is the only
place that does), maps them and the published ones to protobuf, and writes them to the outbox
in the same transaction as the state they describe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mesh.messaging.kafka import Topics
from mesh.messaging.outbox import claim_event
from mesh.storage import unit_of_work
from order_svc.adapters import event_mapping
from order_svc.adapters.repository import (
    SqlCatalogRepository,
    SqlCustomerRepository,
    SqlIdempotencyRepository,
    SqlOrderRepository,
)
from order_svc.domain.events import DomainEvent

T = TypeVar("T")
# The inbox's consumer name for the events this service applies (rows already carry it).
INBOX_CONSUMER = "order-svc"


class SqlUnitOfWork:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], topics: Topics, *, consumer: str = INBOX_CONSUMER
    ) -> None:
        self._transaction = unit_of_work.UnitOfWork(sessions)
        self._topics = topics
        self._consumer = consumer
        self._published: list[DomainEvent] = []
        self._orders: SqlOrderRepository | None = None
        self._customers: SqlCustomerRepository | None = None
        self._catalog: SqlCatalogRepository | None = None
        self._idempotency: SqlIdempotencyRepository | None = None

    @property
    def session(self) -> AsyncSession:
        """The transaction's session (for tests and tools that look at the tables directly)."""
        return self._transaction.session

    @property
    def orders(self) -> SqlOrderRepository:
        return _bound(self._orders)

    @property
    def customers(self) -> SqlCustomerRepository:
        return _bound(self._customers)

    @property
    def catalog(self) -> SqlCatalogRepository:
        return _bound(self._catalog)

    @property
    def idempotency(self) -> SqlIdempotencyRepository:
        return _bound(self._idempotency)

    async def __aenter__(self) -> Self:
        await self._transaction.__aenter__()
        session = self._transaction.session
        self._orders = SqlOrderRepository(session)
        self._customers = SqlCustomerRepository(session)
        self._catalog = SqlCatalogRepository(session)
        self._idempotency = SqlIdempotencyRepository(session)
        self._published = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._orders = self._customers = self._catalog = self._idempotency = None
        await self._transaction.__aexit__(exc_type, exc, tb)

    def publish(self, *events: DomainEvent) -> None:
        self._published.extend(events)

    async def claim(self, event_id: str) -> bool:
        return await claim_event(self.session, self._consumer, event_id)

    def after_commit(self, callback: Callable[[], Awaitable[object]]) -> None:
        self._transaction.after_commit(callback)

    async def commit(self) -> None:
        await self._collect_events()
        await self._transaction.commit()

    async def _collect_events(self) -> None:
        for order in self.orders.seen:
            if not order.events:
                continue
            customer = await self.customers.get(order.customer_id)
            self._transaction.publish(*event_mapping.order_events(order, order.events, customer, self._topics))
            order.events.clear()
        published, self._published = self._published, []
        self._transaction.publish(*(event_mapping.published_event(event, self._topics) for event in published))


def _bound(repository: T | None) -> T:
    if repository is None:
        raise RuntimeError("unit of work used outside `async with`")
    return repository
