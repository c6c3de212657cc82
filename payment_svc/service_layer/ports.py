"""What the service layer needs from the outside world, as abstractions the adapters implement,
and ``Dependencies``: the one object that hands them to the handlers.

The payment provider's port is its own module (``provider.py``): the Stripe and simulated
adapters implement it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Protocol, Self

from payment_svc.domain.events import Event
from payment_svc.domain.model import Payment, PaymentStatus
from payment_svc.service_layer.provider import PaymentProvider

Clock = Callable[[], datetime]
AfterCommit = Callable[[], Awaitable[object]]
# Test-only crash points (the kill -9 tests); production passes one that does nothing.
Failpoint = Callable[[str], None]


@dataclass(frozen=True)
class Cursor:
    """Where a page ended, in the newest-first order (created_at, order_id)."""

    created_at: datetime
    order_id: str


@dataclass(frozen=True)
class ListQuery:
    limit: int
    # Only this customer's payments, when set (always set for a customer's own list).
    customer_id: str = ""
    status: PaymentStatus | None = None
    after: Cursor | None = None


class PaymentRepository(Protocol):
    async def get(self, order_id: str, *, for_update: bool = False) -> Payment | None: ...

    async def add(self, payment: Payment) -> bool:
        """Stores a new payment; False (and nothing changed) when the order has one already."""
        ...

    async def save(self, payment: Payment) -> None: ...

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[str]:
        """Order ids of payments whose step is due, leased to the caller until now + lease.

        Rows another transaction holds are skipped, so replicas never take the same one.
        """
        ...

    async def list(self, query: ListQuery) -> list[Payment]: ...


class UnitOfWork(Protocol):
    """One transaction: ``async with`` rolls back unless ``commit()`` was called; events
    published are written to the outbox in the same transaction."""

    @property
    def payments(self) -> PaymentRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def publish(self, *events: Event) -> None: ...

    async def claim(self, event_id: str) -> bool:
        """Records the event in this service's inbox; False when it was handled already."""
        ...

    def after_commit(self, callback: AfterCommit) -> None: ...

    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class Metrics(Protocol):
    """Payment counters (Prometheus in production, adapters.metrics)."""

    def provider_call(self, step: str, outcome: str, seconds: float) -> None: ...
    def payment_event(self, event: str, outcome: str) -> None: ...
    def payment_status(self, status: str, amount_minor: int, currency: str) -> None: ...


@dataclass(frozen=True)
class StepPolicy:
    timeout: timedelta = timedelta(seconds=10)
    retry_base: timedelta = timedelta(seconds=1)
    retry_max: timedelta = timedelta(seconds=60)
    lease: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class Dependencies:
    """Every port the handlers use; built by ``bootstrap.build_dependencies`` (or from fakes in tests)."""

    uow: UnitOfWorkFactory
    provider: PaymentProvider
    clock: Clock
    metrics: Metrics
    policy: StepPolicy = StepPolicy()
    failpoint: Failpoint = lambda name: None
