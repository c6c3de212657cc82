"""In-memory fakes of the notification service's own ports (no servers)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import TracebackType

from mesh.values.email_address import email_problem
from notify_svc.domain.model import Notification
from notify_svc.domain.orders import CustomerContact, EventKind, Money, OrderEvent, OrderLine, OrderSnapshot
from notify_svc.domain.planning import Recipient
from notify_svc.domain.webhooks import WebhookDelivery, WebhookEndpoint
from notify_svc.service_layer.ports import (
    DeliveryError,
    DeliveryQuery,
    Dependencies,
    ListQuery,
    UnitOfWork,
    Wake,
    WebhookError,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeRepository:
    def __init__(self) -> None:
        self.rows: dict[str, Notification] = {}

    async def add(self, notification: Notification) -> bool:
        if any(n.event_id == notification.event_id and n.channel == notification.channel for n in self.rows.values()):
            return False
        self.rows[notification.notification_id] = copy.deepcopy(notification)
        return True

    async def get(self, notification_id: str, *, for_update: bool = False) -> Notification | None:
        row = self.rows.get(notification_id)
        return copy.deepcopy(row) if row else None

    async def claim_due(self, now: datetime, limit: int) -> list[Notification]:
        due = sorted((n for n in self.rows.values() if n.is_due(now)), key=lambda n: n.next_attempt_at)
        return [copy.deepcopy(n) for n in due[:limit]]

    async def save(self, notifications: Sequence[Notification]) -> None:
        for notification in notifications:
            self.rows[notification.notification_id] = copy.deepcopy(notification)

    async def list(self, query: ListQuery) -> list[Notification]:
        rows = sorted(self.rows.values(), key=lambda n: (n.create_time, n.notification_id), reverse=True)
        rows = [n for n in rows if not query.order_id or n.order_id == query.order_id]
        rows = [n for n in rows if query.status is None or n.status is query.status]
        rows = [n for n in rows if not query.customer_id or n.customer_id == query.customer_id]
        if query.after is not None:
            key = (query.after.create_time, query.after.notification_id)
            rows = [n for n in rows if (n.create_time, n.notification_id) < key]
        return [copy.deepcopy(n) for n in rows[: query.limit]]


class FakeUnitOfWork:
    """``ports.UnitOfWork`` in memory, in the style of cosmicpython's: a ``committed`` flag, and
    an inbox set shared by every unit of one harness.

    Inbox claims take effect at commit (a unit that raises claims nothing, so the redelivery is
    handled again, as with the database); repository writes are kept at once, which is enough
    for handlers that commit or raise before writing.
    """

    def __init__(
        self,
        repo: FakeRepository,
        inbox: set[str],
        endpoints: FakeEndpointRepository | None = None,
        deliveries: FakeDeliveryRepository | None = None,
    ) -> None:
        self.notifications = repo
        self.endpoints = endpoints or FakeEndpointRepository()
        self.deliveries = deliveries or FakeDeliveryRepository()
        self.inbox = inbox
        self._claimed: set[str] = set()
        self._callbacks: list[Wake] = []
        self.committed = False

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._claimed.clear()
        self._callbacks.clear()

    async def claim(self, event_id: str) -> bool:
        if event_id in self.inbox or event_id in self._claimed:
            return False
        self._claimed.add(event_id)
        return True

    def after_commit(self, callback: Wake) -> None:
        self._callbacks.append(callback)

    async def commit(self) -> None:
        self.inbox |= self._claimed
        self._claimed.clear()
        self.committed = True
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            await callback()


class FakeChannel:
    """Records what it was asked to send; fails with the queued errors first."""

    name = "email"

    def __init__(self) -> None:
        self.sent: list[Notification] = []
        self.failures: dict[str, list[DeliveryError]] = {}

    def recipient_for(self, contact: CustomerContact) -> Recipient:
        problem = email_problem(contact.email)
        return Recipient(contact.email, None if problem is None else f"invalid email address: {problem}")

    def fail_next(self, recipient: str, error: DeliveryError, times: int = 1) -> None:
        self.failures.setdefault(recipient, []).extend([error] * times)

    async def send(self, notification: Notification) -> None:
        queued = self.failures.get(notification.recipient)
        if queued:
            raise queued.pop(0)
        self.sent.append(notification)


class FakeMetrics:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def _inc(self, what: str, channel: str) -> None:
        self.counts[(what, channel)] = self.counts.get((what, channel), 0) + 1

    def sent(self, channel: str) -> None:
        self._inc("sent", channel)

    def failed(self, channel: str) -> None:
        self._inc("failed", channel)

    def retried(self, channel: str) -> None:
        self._inc("retried", channel)


class Harness:
    """Dependencies wired to fakes, plus handles on them."""

    def __init__(self) -> None:
        self.repo = FakeRepository()
        self.inbox: set[str] = set()
        # Every unit of work the handlers opened, in order (to assert what was committed).
        self.units: list[FakeUnitOfWork] = []
        self.clock = FakeClock()
        self.channel = FakeChannel()
        self.metrics = FakeMetrics()
        self.wakes = 0
        ids = itertools.count(1)

        async def wake() -> None:
            self.wakes += 1

        self.endpoints = FakeEndpointRepository()
        self.deliveries = FakeDeliveryRepository()
        self.webhooks = FakeWebhookSender()

        def unit_of_work() -> UnitOfWork:
            unit = FakeUnitOfWork(self.repo, self.inbox, self.endpoints, self.deliveries)
            self.units.append(unit)
            return unit

        self.deps = Dependencies(
            uow=unit_of_work,
            channels={"email": self.channel},
            clock=self.clock,
            new_id=lambda: f"00000000-0000-4000-8000-{next(ids):012d}",
            metrics=self.metrics,
            wake=wake,
            webhooks=self.webhooks,
            development=True,
            random=lambda: 0.5,
            new_secret=lambda: "whsec_" + "A" * 40,
        )


def eur(amount: str) -> Money:
    return Money("EUR", Decimal(amount))


def order(order_id: str = "ord-1", status: str = "PENDING", customer_id: str = "cust-1") -> OrderSnapshot:
    return OrderSnapshot(
        order_id=order_id,
        customer_id=customer_id,
        status=status,
        lines=(
            OrderLine("sku-1", "Blue Mug", 2, eur("7.50"), eur("15.00")),
            OrderLine("sku-2", "Tea Towel", 1, eur("4.25"), eur("4.25")),
        ),
        total=eur("19.25"),
    )


def contact(email: str = "ada@example.com", customer_id: str = "cust-1", phone: str = "") -> CustomerContact:
    return CustomerContact(customer_id, "Ada Lovelace", email, phone)


def placed(
    event_id: str = "ev-1",
    *,
    email: str = "ada@example.com",
    order_id: str = "ord-1",
    customer_id: str = "cust-1",
    phone: str = "",
) -> OrderEvent:
    return OrderEvent(
        event_id,
        EventKind.ORDER_PLACED,
        order(order_id, customer_id=customer_id),
        contact(email, customer_id, phone),
        new_status="PENDING",
    )


def status_changed(event_id: str = "ev-2", new_status: str = "CONFIRMED", reason: str = "") -> OrderEvent:
    return OrderEvent(
        event_id,
        EventKind.ORDER_STATUS_CHANGED,
        order(status=new_status),
        contact(),
        new_status=new_status,
        old_status="PENDING",
        reason=reason,
    )


def cancelled(event_id: str = "ev-3", reason: str = "changed my mind") -> OrderEvent:
    return OrderEvent(
        event_id,
        EventKind.ORDER_CANCELLED,
        order(status="CANCELLED"),
        contact(),
        new_status="CANCELLED",
        old_status="CONFIRMED",
        reason=reason,
    )


class FakeEndpointRepository:
    def __init__(self) -> None:
        self.rows: dict[str, WebhookEndpoint] = {}

    async def add(self, endpoint: WebhookEndpoint) -> None:
        self.rows[endpoint.endpoint_id] = copy.deepcopy(endpoint)

    async def get(self, endpoint_id: str, *, for_update: bool = False) -> WebhookEndpoint | None:
        row = self.rows.get(endpoint_id)
        return copy.deepcopy(row) if row else None

    async def list(self, *, active_only: bool = False) -> list[WebhookEndpoint]:
        rows = sorted(self.rows.values(), key=lambda e: (e.create_time, e.endpoint_id))
        return [copy.deepcopy(e) for e in rows if not (active_only and e.disabled)]

    async def count(self, *, lock: bool = False) -> int:
        return len(self.rows)

    async def save(self, endpoint: WebhookEndpoint) -> None:
        self.rows[endpoint.endpoint_id] = copy.deepcopy(endpoint)

    async def delete(self, endpoint_id: str) -> bool:
        return self.rows.pop(endpoint_id, None) is not None


class FakeDeliveryRepository:
    def __init__(self) -> None:
        self.rows: dict[str, WebhookDelivery] = {}

    async def add(self, delivery: WebhookDelivery) -> bool:
        if any(d.event_id == delivery.event_id and d.endpoint_id == delivery.endpoint_id for d in self.rows.values()):
            return False
        self.rows[delivery.delivery_id] = copy.deepcopy(delivery)
        return True

    async def get(self, delivery_id: str, *, for_update: bool = False) -> WebhookDelivery | None:
        row = self.rows.get(delivery_id)
        return copy.deepcopy(row) if row else None

    async def claim_due(self, now: datetime, limit: int) -> list[WebhookDelivery]:
        due = sorted((d for d in self.rows.values() if d.is_due(now)), key=lambda d: d.next_attempt_at)
        return [copy.deepcopy(d) for d in due[:limit]]

    async def save(self, deliveries: Sequence[WebhookDelivery]) -> None:
        for delivery in deliveries:
            self.rows[delivery.delivery_id] = copy.deepcopy(delivery)

    async def list(self, query: DeliveryQuery) -> list[WebhookDelivery]:
        rows = sorted(self.rows.values(), key=lambda d: (d.create_time, d.delivery_id), reverse=True)
        rows = [d for d in rows if not query.endpoint_id or d.endpoint_id == query.endpoint_id]
        rows = [d for d in rows if not query.order_id or d.order_id == query.order_id]
        rows = [d for d in rows if query.status is None or d.status is query.status]
        if query.after is not None:
            key = (query.after.create_time, query.after.delivery_id)
            rows = [d for d in rows if (d.create_time, d.delivery_id) < key]
        return [copy.deepcopy(d) for d in rows[: query.limit]]


class FakeWebhookSender:
    """Records every POST (delivery id, endpoint url); answers with the queued errors first."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str]] = []
        self.failures: dict[str, list[WebhookError]] = {}

    def fail_next(self, url: str, error: WebhookError, times: int = 1) -> None:
        self.failures.setdefault(url, []).extend([error] * times)

    async def post(self, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> int:
        self.posted.append((delivery.delivery_id, endpoint.url))
        queued = self.failures.get(endpoint.url)
        if queued:
            raise queued.pop(0)
        return 200


class FakeSmsChannel:
    """An optional channel: customers without a phone number are not on it."""

    name = "sms"

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def recipient_for(self, contact: CustomerContact) -> Recipient | None:
        return Recipient(contact.phone) if contact.phone else None

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)
