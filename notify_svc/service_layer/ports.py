"""What the service layer needs from the outside world, as abstractions the adapters implement,
and ``Dependencies``: the one object that hands them to the handlers.

A new way to reach customers is one more ``Channel`` adapter (email and SMS are two). Webhooks
are not a channel: they go to other backends, not to the customer, once per endpoint
(``WebhookSender`` and the endpoint and delivery repositories).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from notify_svc.domain.model import Notification, Status
from notify_svc.domain.orders import CustomerContact
from notify_svc.domain.planning import Recipient
from notify_svc.domain.webhooks import (
    SECRET_MIN_BYTES,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    secret_from,
)

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

    def recipient_for(self, contact: CustomerContact) -> Recipient | None:
        """The customer's address on this channel, or why there is none that can work; None
        when the channel is optional and this customer is not on it (SMS without a phone
        number): then no notification is recorded at all."""
        ...

    async def send(self, notification: Notification) -> None:
        """Delivers once or raises DeliveryError. Must be safe to repeat (stable message ids)."""
        ...


class WebhookError(Exception):
    """An endpoint did not accept a delivery; ``retriable`` says whether trying later may succeed."""

    def __init__(self, message: str, *, retriable: bool, http_status: int = 0) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.http_status = http_status


class WebhookSender(Protocol):
    async def post(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> int:
        """POSTs the delivery's payload, signed with the endpoint's secret; returns the 2xx
        status or raises WebhookError. Every attempt carries the same delivery id."""
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


@dataclass(frozen=True)
class DeliveryCursor:
    create_time: datetime
    delivery_id: str


@dataclass(frozen=True)
class DeliveryQuery:
    limit: int
    endpoint_id: str = ""
    order_id: str = ""
    status: DeliveryStatus | None = None
    after: DeliveryCursor | None = None


class WebhookEndpointRepository(Protocol):
    async def add(self, endpoint: WebhookEndpoint) -> None: ...

    async def get(self, endpoint_id: str, *, for_update: bool = False) -> WebhookEndpoint | None: ...

    async def list(self, *, active_only: bool = False) -> list[WebhookEndpoint]:
        """Oldest first."""
        ...

    async def count(self, *, lock: bool = False) -> int:
        """How many are registered; ``lock`` serialises registrations so the cap holds."""
        ...

    async def save(self, endpoint: WebhookEndpoint) -> None: ...

    async def delete(self, endpoint_id: str) -> bool: ...


class WebhookDeliveryRepository(Protocol):
    async def add(self, delivery: WebhookDelivery) -> bool:
        """Stores a new delivery; False when (event_id, endpoint_id) already has one."""
        ...

    async def get(self, delivery_id: str, *, for_update: bool = False) -> WebhookDelivery | None: ...

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        """Due PENDING deliveries, locked for this transaction; rows others hold are skipped."""
        ...

    async def save(self, deliveries: Sequence[WebhookDelivery]) -> None: ...

    async def list(self, query: DeliveryQuery) -> list[WebhookDelivery]: ...


class UnitOfWork(Protocol):
    """One transaction: ``async with`` rolls back unless ``commit()`` was called; after-commit
    callbacks run once it succeeded. No ``publish``: the service records notifications and
    publishes no events of its own."""

    @property
    def notifications(self) -> NotificationRepository: ...

    @property
    def endpoints(self) -> WebhookEndpointRepository: ...

    @property
    def deliveries(self) -> WebhookDeliveryRepository: ...

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
    # Wakes the dispatchers of this process once new PENDING rows are committed.
    wake: Wake
    # POSTs webhook deliveries (None: deliveries are recorded but no dispatcher sends them).
    webhooks: WebhookSender | None = None
    # Plain-http loopback endpoints are accepted (development and tests only).
    development: bool = False
    # The jitter of webhook retries: a value in [0, 1).
    random: Callable[[], float] = random.random
    new_secret: Callable[[], str] = field(default=lambda: secret_from(secrets.token_bytes(SECRET_MIN_BYTES + 8)))
