"""The service's unit of work: the mesh's (transaction, inbox, after-commit) plus the repository."""

from __future__ import annotations

from mesh.messaging.outbox import claim_event
from mesh.storage.unit_of_work import UnitOfWork
from notify_svc.adapters.repository import SqlNotificationRepository


class SqlUnitOfWork(UnitOfWork):
    notifications: SqlNotificationRepository

    async def __aenter__(self) -> SqlUnitOfWork:
        await super().__aenter__()
        self.notifications = SqlNotificationRepository(self.session)
        return self

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        # The mesh's claim() wants a whole envelope; handlers here see domain events, which
        # carry the id, so this claims by id in the same transaction.
        return await claim_event(self.session, consumer, event_id)
