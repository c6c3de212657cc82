"""The SQL unit of work: mesh's transaction (outbox, inbox, after-commit) with the payment
repository bound to its session and the payments' domain events mapped to outbox rows."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mesh.messaging.kafka import Topics
from mesh.messaging.outbox import claim_event
from mesh.storage import unit_of_work
from payment_svc.adapters.event_mapping import to_outgoing
from payment_svc.adapters.sql_payments import SqlPaymentRepository
from payment_svc.domain.events import Event
from payment_svc.domain.model import Payment
from payment_svc.service_layer.ports import AfterCommit

# The inbox name under which this service records the events it applied (never suffixed).
CONSUMER = "payment-svc"


class _PublishingRepository(SqlPaymentRepository):
    """Saving a payment also writes the events it recorded to the outbox (and clears them)."""

    def __init__(self, session: AsyncSession, uow: SqlUnitOfWork) -> None:
        super().__init__(session)
        self._uow = uow

    async def add(self, payment: Payment) -> bool:
        added = await super().add(payment)
        if added:
            self._collect(payment)
        return added

    async def save(self, payment: Payment) -> None:
        await super().save(payment)
        self._collect(payment)

    def _collect(self, payment: Payment) -> None:
        self._uow.publish(*payment.events)
        payment.events.clear()


class SqlUnitOfWork:
    """Implements service_layer.ports.UnitOfWork; composes (does not extend) mesh's UnitOfWork."""

    payments: SqlPaymentRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession], topics: Topics) -> None:
        self._uow = unit_of_work.UnitOfWork(sessions)
        self._topics = topics

    async def __aenter__(self) -> Self:
        await self._uow.__aenter__()
        self.payments = _PublishingRepository(self._uow.session, self)
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
