"""What the service layer needs from the outside world, as abstractions the adapters implement,
and ``Dependencies``: the one object that hands them to the handlers.

A new way to reach customers (SMS, webhook) is one more ``Channel`` adapter; nothing here or
in the domain changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from notify_svc.domain.model import Notification, Status
from notify_svc.domain.orders import CustomerContact
from notify_svc.domain.planning import Recipient

Clock = Callable[[], datetime]
IdFactory = Callable[[], str]
Wake = Callable[[], Awaitable[object]]


class DeliveryError(Exception):
    """A channel could not deliver; ``retriable`` says whether trying later may succeed."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


class Channel(Protocol):
    """One way of reaching a customer."""

    @property
    def name(self) -> str:
        """Stored with each notification ("email"); picks the channel again at delivery."""
        ...

    def recipient_for(self, contact: CustomerContact) -> Recipient:
        """The customer's address on this channel, or why there is none that can work."""
        ...

    async def send(self, notification: Notification) -> None:
        """Delivers once or raises DeliveryError. Must be safe to repeat (stable message ids)."""
        ...


class Metrics(Protocol):
    """Delivery counters (Prometheus in production, adapters.metrics)."""

    def sent(self, channel: str) -> None: ...
    def failed(self, channel: str) -> None: ...
    def retried(self, channel: str) -> None: ...


@dataclass(frozen=True)
class Cursor:
    """Where a page ended, in the newest-first order (create_time, notification_id)."""

    create_time: datetime
    notification_id: str


@dataclass(frozen=True)
class ListQuery:
    limit: int
    order_id: str = ""
    status: Status | None = None
    after: Cursor | None = None
    # Only this customer's notifications, when set (always set for a customer's own list).
    customer_id: str = ""


class NotificationRepository(Protocol):
    async def add(self, notification: Notification) -> bool:
        """Stores a new notification; False when (event_id, channel) already has one."""
        ...

    async def get(self, notification_id: str, *, for_update: bool = False) -> Notification | None: ...

    async def claim_due(self, now: datetime, limit: int) -> list[Notification]:
        """Due PENDING notifications, locked for this transaction; rows others hold are skipped."""
        ...

    async def save(self, notifications: Sequence[Notification]) -> None: ...

    async def list(self, query: ListQuery) -> list[Notification]: ...


class UnitOfWork(Protocol):
    """One transaction: ``async with`` rolls back unless ``commit()`` was called; after-commit
    callbacks run once it succeeded. No ``publish``: the service records notifications and
    publishes no events of its own."""

    @property
    def notifications(self) -> NotificationRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def claim(self, event_id: str) -> bool:
        """Records the event in this service's inbox; False when it was handled already (a redelivery)."""
        ...

    def after_commit(self, callback: Wake) -> None: ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


@dataclass(frozen=True)
class Dependencies:
    """Every port the handlers use; built by ``bootstrap.build_dependencies`` (or from fakes in tests)."""

    uow: UnitOfWorkFactory
    # By channel name ("email"): every event is offered to each, and a row's channel picks it again.
    channels: Mapping[str, Channel]
    clock: Clock
    new_id: IdFactory
    metrics: Metrics
    # Wakes the dispatcher of this process once new PENDING rows are committed.
    wake: Wake
