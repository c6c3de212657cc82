"""In-memory fakes of payment_svc's own ports (service_layer/ports.py and provider.py): the
repository, the unit of work, a scriptable provider that keeps books like a real one, the clock
and the metrics, and the Harness that bundles them into Dependencies."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType

from payment_svc.domain.events import Event
from payment_svc.domain.model import STEPS, Payment
from payment_svc.service_layer.ports import AfterCommit, Dependencies, ListQuery, StepPolicy, UnitOfWork
from payment_svc.service_layer.provider import (
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    ProviderError,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Store:
    """The "database": what committed transactions leave behind."""

    payments: dict[str, Payment] = field(default_factory=dict)
    inbox: set[str] = field(default_factory=set)
    published: list[Event] = field(default_factory=list)
    commits: int = 0


class FakePayments:
    def __init__(self, rows: dict[str, Payment], clock: FakeClock, uow: FakeUnitOfWork) -> None:
        self._rows, self._clock, self._uow = rows, clock, uow

    async def get(self, order_id: str, *, for_update: bool = False) -> Payment | None:
        row = self._rows.get(order_id)
        return copy.deepcopy(row) if row is not None else None

    async def add(self, payment: Payment) -> bool:
        if payment.order_id in self._rows:
            return False
        payment.created_at = payment.created_at or self._clock()
        await self.save(payment)
        return True

    async def save(self, payment: Payment) -> None:
        payment.updated_at = self._clock()
        self._uow.published.extend(payment.events)
        payment.events.clear()
        self._rows[payment.order_id] = copy.deepcopy(payment)

    async def claim_due(self, now: datetime, limit: int, lease: timedelta) -> list[str]:
        due = sorted(
            (p for p in self._rows.values() if p.status in STEPS and (p.next_try_at is None or p.next_try_at <= now)),
            key=lambda p: p.next_try_at or datetime.min.replace(tzinfo=UTC),
        )[:limit]
        for p in due:
            p.next_try_at = now + lease
        return [p.order_id for p in due]

    async def list(self, query: ListQuery) -> list[Payment]:
        rows = sorted(self._rows.values(), key=lambda p: (p.created_at or T0, p.order_id), reverse=True)
        if query.customer_id:
            rows = [p for p in rows if p.customer_id == query.customer_id]
        if query.status is not None:
            rows = [p for p in rows if p.status is query.status]
        if query.after is not None:
            after = (query.after.created_at, query.after.order_id)
            rows = [p for p in rows if (p.created_at or T0, p.order_id) < after]
        return [copy.deepcopy(p) for p in rows[: query.limit]]


class FakeUnitOfWork:
    """Works on a copy of the store; commit() replaces the store's contents with it."""

    def __init__(self, store: Store, clock: FakeClock) -> None:
        self._store, self._clock = store, clock
        self.published: list[Event] = []
        self._callbacks: list[AfterCommit] = []

    async def __aenter__(self) -> FakeUnitOfWork:
        self._rows = copy.deepcopy(self._store.payments)
        self._inbox = set(self._store.inbox)
        self.payments = FakePayments(self._rows, self._clock, self)
        self.published = []
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def publish(self, *events: Event) -> None:
        self.published.extend(events)

    async def claim(self, event_id: str) -> bool:
        if event_id in self._inbox:
            return False
        self._inbox.add(event_id)
        return True

    def after_commit(self, callback: AfterCommit) -> None:
        self._callbacks.append(callback)

    async def commit(self) -> None:
        self._store.payments = self._rows
        self._store.inbox = self._inbox
        self._store.published.extend(self.published)
        self._store.commits += 1
        for callback in self._callbacks:
            await callback()


class FakeProvider:
    """Keeps books like a real provider (idempotent by key); ``fail_next`` scripts failures.

    ``act_then_fail``: the failure comes after the provider acted (a lost answer).
    """

    name = "fake"

    def __init__(self) -> None:
        self.books: dict[str, Authorization] = {}
        self.authorize_calls: list[str] = []
        self.find_calls: list[str] = []
        self.captures: list[str] = []
        self.refunds: list[tuple[str, bool]] = []
        self._failures: list[tuple[ProviderError, bool]] = []
        self.holds: dict[str, int] = {}

    def fail_next(self, error: ProviderError, *, times: int = 1, act_then_fail: bool = False) -> None:
        self._failures += [(error, act_then_fail)] * times

    def _fail_before(self) -> tuple[ProviderError, bool] | None:
        if not self._failures:
            return None
        failure = self._failures.pop(0)
        if not failure[1]:
            raise failure[0]
        return failure

    async def authorize(self, request: AuthorizeRequest) -> Authorization:
        self.authorize_calls.append(request.idempotency_key)
        lost = self._fail_before()
        if request.idempotency_key not in self.books:
            if request.payment_method.startswith("decline"):
                answer = Authorization(
                    AuthorizationStatus.DECLINED, "", request.amount_minor, request.currency, "card_declined", "no"
                )
            else:
                ref = f"pi_{len(self.books) + 1}"
                answer = Authorization(AuthorizationStatus.AUTHORIZED, ref, request.amount_minor, request.currency)
                self.holds[ref] = request.amount_minor
            self.books[request.idempotency_key] = answer
        if lost is not None:
            raise lost[0]
        return self.books[request.idempotency_key]

    async def find(self, idempotency_key: str, order_id: str) -> Authorization | None:
        self.find_calls.append(idempotency_key)
        self._fail_before()
        return self.books.get(idempotency_key)

    async def capture(self, provider_ref: str, amount_minor: int, idempotency_key: str) -> None:
        self._fail_before()
        self.captures.append(provider_ref)

    async def refund(self, provider_ref: str, amount_minor: int, idempotency_key: str, *, captured: bool) -> None:
        self._fail_before()
        self.refunds.append((provider_ref, captured))

    @property
    def authorized(self) -> int:
        """Authorizations really made (distinct keys that got a hold)."""
        return sum(1 for a in self.books.values() if a.status is AuthorizationStatus.AUTHORIZED)


class FakeMetrics:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.events: list[tuple[str, str]] = []
        self.statuses: list[str] = []

    def provider_call(self, step: str, outcome: str, seconds: float) -> None:
        self.calls.append((step, outcome))

    def payment_event(self, event: str, outcome: str) -> None:
        self.events.append((event, outcome))

    def payment_status(self, status: str, amount_minor: int, currency: str) -> None:
        self.statuses.append(status)


class Crash(BaseException):
    """A failpoint fired: the process "dies" here (BaseException, so nothing catches it)."""


class Harness:
    def __init__(self, policy: StepPolicy | None = None) -> None:
        self.store = Store()
        self.clock = FakeClock()
        self.provider = FakeProvider()
        self.metrics = FakeMetrics()
        self.crash_at: str = ""

        def unit_of_work() -> UnitOfWork:
            return FakeUnitOfWork(self.store, self.clock)

        def failpoint(point: str) -> None:
            if point == self.crash_at:
                self.crash_at = ""
                raise Crash(point)

        self.deps = Dependencies(
            uow=unit_of_work,
            provider=self.provider,
            clock=self.clock,
            metrics=self.metrics,
            policy=policy or StepPolicy(),
            failpoint=failpoint,
        )

    def payment(self, order_id: str) -> Payment:
        return self.store.payments[order_id]

    def published(self, kind: type[Event] | None = None) -> list[Event]:
        return [e for e in self.store.published if kind is None or isinstance(e, kind)]


def event_ids() -> Callable[[], str]:
    counter = iter(range(1, 1_000_000))
    return lambda: f"ev-{next(counter)}"
