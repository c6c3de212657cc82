"""``ports.UnitOfWork`` on PostgreSQL: the mesh's transaction (inbox, after-commit) plus the repository.

It wraps mesh.storage.unit_of_work.UnitOfWork rather than extending it, so the service layer sees
only what its port promises (no session, no outbox envelopes), and the inbox's consumer name is
this adapter's business, not the handlers'.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mesh.messaging.outbox import claim_event, current_trace_headers
from mesh.storage.unit_of_work import UnitOfWork as Transaction
from notify_svc.adapters.repository import SqlNotificationRepository
from notify_svc.adapters.webhook_repository import SqlWebhookDeliveryRepository, SqlWebhookEndpointRepository
from notify_svc.service_layer.ports import Wake


class SqlUnitOfWork:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, inbox_consumer: str) -> None:
        self._transaction = Transaction(sessions)
        # The name the inbox records events under; deliberately not the Kafka group id, which
        # tests suffix to isolate their runs.
        self._inbox_consumer = inbox_consumer
        self._notifications: SqlNotificationRepository | None = None
        self._endpoints: SqlWebhookEndpointRepository | None = None
        self._deliveries: SqlWebhookDeliveryRepository | None = None

    @property
    def notifications(self) -> SqlNotificationRepository:
        if self._notifications is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._notifications

    @property
    def endpoints(self) -> SqlWebhookEndpointRepository:
        if self._endpoints is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._endpoints

    @property
    def deliveries(self) -> SqlWebhookDeliveryRepository:
        if self._deliveries is None:
            raise RuntimeError("unit of work used outside `async with`")
        return self._deliveries

    async def __aenter__(self) -> Self:
        # Taken before the transaction's own span starts: a notification's send is then a
        # child of what recorded it (the event's consume span), not of a database transaction.
        recorded_in = current_trace_headers()
        await self._transaction.__aenter__()
        session = self._transaction.session
        self._notifications = SqlNotificationRepository(session, trace_context=recorded_in)
        self._endpoints = SqlWebhookEndpointRepository(session)
        self._deliveries = SqlWebhookDeliveryRepository(session)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._notifications = self._endpoints = self._deliveries = None
        await self._transaction.__aexit__(exc_type, exc, tb)

    async def claim(self, event_id: str) -> bool:
        # The mesh's claim() wants a whole envelope; handlers here see domain events, which
        # carry the id, so this claims by id in the same transaction.
        return await claim_event(self._transaction.session, self._inbox_consumer, event_id)

    def after_commit(self, callback: Wake) -> None:
        self._transaction.after_commit(callback)

    async def commit(self) -> None:
        await self._transaction.commit()
