"""The order service's ports in memory, for use-case tests with no database, broker or network.

In the style of cosmicpython's FakeUnitOfWork: a ``FakeStore`` is the "database" several units
of work share; a ``FakeUnitOfWork`` works on a copy of it and writes the copy back only on
``commit()`` (so a handler that raises leaves nothing half-written, as with PostgreSQL), collects
the events of the orders it stored, records inbox claims, and runs after-commit callbacks.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from order_svc.domain.customer import Customer
from order_svc.domain.events import DomainEvent
from order_svc.domain.model import Order
from order_svc.domain.placement import CatalogEntry
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.ports import Caller, Dependencies, OrderLoader, OrderPageKey

START = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ADMIN = Caller("admin-1", is_admin=True)


def customer_caller(customer_id: str, *metadata: tuple[str, str]) -> Caller:
    return Caller(customer_id, is_admin=False, metadata=tuple(metadata))


class Clock:
    """The database's ``now()``: moves one second per call unless set."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@dataclass
class Tables:
    """What the database holds; a unit of work changes a deep copy of it."""

    orders: dict[str, Order] = field(default_factory=dict)
    confirmed_at: dict[str, datetime] = field(default_factory=dict)
    customers: dict[str, Customer] = field(default_factory=dict)
    catalog: dict[str, CatalogEntry] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    inbox: set[str] = field(default_factory=set)
    pending_incidents: set[str] = field(default_factory=set)
    # The outbox, as the domain events the units of work handed over, in commit order.
    outbox: list[DomainEvent] = field(default_factory=list)


@dataclass
class FakeStore:
    tables: Tables = field(default_factory=Tables)
    clock: Clock = field(default_factory=Clock)
    commits: int = 0

    @property
    def published(self) -> list[DomainEvent]:
        return self.tables.outbox

    def order(self, order_id: str) -> Order:
        return self.tables.orders[order_id]

    def add_customer(self, customer_id: str, name: str = "Ada", email: str = "") -> Customer:
        customer = Customer(customer_id, name, email or f"{customer_id}@example.com", "", START, START)
        self.tables.customers[customer_id] = customer
        return customer

    def add_order(self, order: Order, *, confirmed_at: datetime | None = None) -> Order:
        """Puts ``order`` in the database as it is (its recorded events are dropped)."""
        stored = copy.deepcopy(order)
        stored.events.clear()
        stored.created_at = stored.created_at or self.clock()
        stored.updated_at = stored.updated_at or stored.created_at
        self.tables.orders[order.order_id] = stored
        if confirmed_at is not None:
            self.tables.confirmed_at[order.order_id] = confirmed_at
        return stored


def _copy(order: Order) -> Order:
    """What a read returns: the stored row, not the object a handler holds."""
    return copy.deepcopy(order)


class FakeOrderRepository:
    def __init__(self, tables: Tables, clock: Clock) -> None:
        self._tables = tables
        self._clock = clock
        self.seen: list[Order] = []

    def _stored(self, order: Order) -> None:
        if not any(known is order for known in self.seen):
            self.seen.append(order)
        if order.status is OrderStatus.CONFIRMED:
            self._tables.confirmed_at[order.order_id] = self._clock.now
        stored = copy.deepcopy(order)
        stored.events.clear()
        self._tables.orders[order.order_id] = stored

    async def add(self, order: Order) -> None:
        assert order.order_id not in self._tables.orders, "order ids are unique"
        order.created_at = order.updated_at = self._clock()
        self._stored(order)

    async def get(self, order_id: str, *, for_update: bool = False) -> Order | None:
        found = self._tables.orders.get(order_id)
        return None if found is None else _copy(found)

    async def save_transition(self, order: Order) -> None:
        assert order.order_id in self._tables.orders, "only a stored order has transitions"
        order.updated_at = self._clock()
        self._stored(order)

    async def find_page(
        self, *, limit: int, after: OrderPageKey | None, customer_id: str, status: OrderStatus | None
    ) -> list[Order]:
        def key(order: Order) -> tuple[datetime, str]:
            assert order.created_at is not None
            return (order.created_at, order.order_id)

        found = sorted(self._tables.orders.values(), key=key, reverse=True)
        if after is not None:
            found = [o for o in found if key(o) < (after.created_at, after.order_id)]
        if customer_id:
            found = [o for o in found if o.customer_id == customer_id]
        if status is not None:
            found = [o for o in found if o.status is status]
        return [_copy(o) for o in found[:limit]]

    async def confirmed_before(self, cutoff: datetime, *, limit: int) -> list[str]:
        due = [
            (at, order_id)
            for order_id, at in self._tables.confirmed_at.items()
            if at < cutoff and self._tables.orders[order_id].status is OrderStatus.CONFIRMED
        ]
        return [order_id for _, order_id in sorted(due)[:limit]]

    async def oldest_pending(self, *, limit: int) -> list[tuple[str, datetime]]:
        pending = [
            (o.created_at, o.order_id)
            for o in self._tables.orders.values()
            if o.status is OrderStatus.PENDING and o.created_at is not None
        ]
        return [(order_id, created) for created, order_id in sorted(pending)[:limit]]

    async def claim_incidents(self, order_ids: Sequence[str]) -> list[str]:
        claimed = self._tables.pending_incidents
        claimed &= {i for i, o in self._tables.orders.items() if o.status is OrderStatus.PENDING}
        new = [order_id for order_id in order_ids if order_id not in claimed]
        claimed.update(new)
        return new


class FakeCustomerRepository:
    def __init__(self, tables: Tables, clock: Clock) -> None:
        self._tables = tables
        self._clock = clock

    async def add(self, customer: Customer) -> Customer | None:
        if customer.customer_id in self._tables.customers:
            return None
        now = self._clock()
        stored = replace(customer, created_at=now, updated_at=now)
        self._tables.customers[customer.customer_id] = stored
        return stored

    async def get(self, customer_id: str) -> Customer | None:
        return self._tables.customers.get(customer_id)

    async def update(self, customer_id: str, changes: dict[str, str]) -> Customer | None:
        found = self._tables.customers.get(customer_id)
        if found is None:
            return None
        updated = replace(found, **changes, updated_at=self._clock())  # type: ignore[arg-type]
        self._tables.customers[customer_id] = updated
        return updated

    async def find_page(self, *, limit: int, after: str) -> list[Customer]:
        return [c for _, c in sorted(self._tables.customers.items()) if c.customer_id > after][:limit]


class FakeCatalogRepository:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def get_many(self, product_ids: Sequence[str]) -> dict[str, CatalogEntry]:
        return {p: self._tables.catalog[p] for p in product_ids if p in self._tables.catalog}

    async def upsert(self, entries: Sequence[CatalogEntry]) -> None:
        self._tables.catalog |= {entry.product_id: entry for entry in entries}


class FakeIdempotencyRepository:
    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def claim(self, principal: str, key: str, request_hash: str, order_id: str) -> tuple[str, str] | None:
        earlier = self._tables.idempotency.get((principal, key))
        if earlier is None:
            self._tables.idempotency[(principal, key)] = (request_hash, order_id)
        return earlier

    async def find(self, principal: str, key: str) -> tuple[str, str] | None:
        return self._tables.idempotency.get((principal, key))


class FakeUnitOfWork:
    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self.committed = False
        self._tables = Tables()
        self._published: list[DomainEvent] = []
        self._after_commit: list[Callable[[], Awaitable[object]]] = []
        self._bind()

    def _bind(self) -> None:
        self.orders = FakeOrderRepository(self._tables, self._store.clock)
        self.customers = FakeCustomerRepository(self._tables, self._store.clock)
        self.catalog = FakeCatalogRepository(self._tables)
        self.idempotency = FakeIdempotencyRepository(self._tables)

    async def __aenter__(self) -> Self:
        self._tables = copy.deepcopy(self._store.tables)
        self._published, self._after_commit, self.committed = [], [], False
        self._bind()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None  # without commit() the copy is simply dropped: a rollback

    def publish(self, *events: DomainEvent) -> None:
        self._published.extend(events)

    async def claim(self, event_id: str) -> bool:
        if event_id in self._tables.inbox:
            return False
        self._tables.inbox.add(event_id)
        return True

    def after_commit(self, callback: Callable[[], Awaitable[object]]) -> None:
        self._after_commit.append(callback)

    async def commit(self) -> None:
        for order in self.orders.seen:
            self._tables.outbox.extend(order.events)
            order.events.clear()
        self._tables.outbox.extend(self._published)
        self._published = []
        self._store.tables = self._tables
        self._store.commits += 1
        self.committed = True
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            await callback()


@dataclass
class FakeInventory:
    """Inventory's catalog and stock; ``away`` answers None (timed out, or the breaker is open)."""

    catalog: dict[str, CatalogEntry] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    away: bool = False
    calls: list[tuple[str, list[str], tuple[tuple[str, str], ...]]] = field(default_factory=list)

    def add(self, product_id: str, *, price_minor: int = 250, stock: int = 100, active: bool = True) -> CatalogEntry:
        entry = CatalogEntry(product_id, f"Product {product_id}", price_minor, "EUR", active)
        self.catalog[product_id] = entry
        self.stock[product_id] = stock
        return entry

    async def available(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, int] | None:
        self.calls.append(("available", list(product_ids), tuple(metadata)))
        if self.away:
            return None
        return {p: self.stock[p] for p in product_ids if p in self.stock}

    async def products(
        self, product_ids: Sequence[str], *, metadata: Sequence[tuple[str, str]] = ()
    ) -> dict[str, CatalogEntry] | None:
        self.calls.append(("products", list(product_ids), tuple(metadata)))
        if self.away:
            return None
        return {p: self.catalog[p] for p in product_ids if p in self.catalog}

    def called(self, method: str) -> int:
        return sum(1 for name, _, _ in self.calls if name == method)


@dataclass
class FakePriceBook:
    """Remembers every entry for ever (``forget()`` makes all of them stale)."""

    entries: dict[str, CatalogEntry] = field(default_factory=dict)

    def lookup(self, product_ids: Sequence[str]) -> tuple[dict[str, CatalogEntry], list[str]]:
        fresh = {p: self.entries[p] for p in product_ids if p in self.entries}
        return fresh, [p for p in product_ids if p not in fresh]

    def remember(self, entries: Iterable[CatalogEntry]) -> None:
        self.entries |= {entry.product_id: entry for entry in entries}

    def forget(self) -> None:
        self.entries.clear()


@dataclass
class FakeOrderCache:
    entries: dict[str, Order] = field(default_factory=dict)
    evicted: list[str] = field(default_factory=list)

    async def read_through(self, order_id: str, load: OrderLoader) -> Order | None:
        if order_id in self.entries:
            return _copy(self.entries[order_id])
        order = await load()
        if order is not None:
            self.entries[order_id] = _copy(order)
        return order

    async def evict(self, order_id: str) -> None:
        self.evicted.append(order_id)
        self.entries.pop(order_id, None)


@dataclass
class FakeMetrics:
    placed: int = 0
    moved: list[OrderStatus] = field(default_factory=list)
    oldest_pending_s: float | None = None
    incidents: int = 0

    def order_placed(self) -> None:
        self.placed += 1

    def order_moved(self, status: OrderStatus) -> None:
        self.moved.append(status)

    def oldest_pending_age(self, seconds: float) -> None:
        self.oldest_pending_s = seconds

    def pending_incident(self) -> None:
        self.incidents += 1


@dataclass
class Fakes:
    """One service's worth of fakes; ``deps`` is what the handlers are given."""

    store: FakeStore = field(default_factory=FakeStore)
    inventory: FakeInventory = field(default_factory=FakeInventory)
    price_book: FakePriceBook = field(default_factory=FakePriceBook)
    cache: FakeOrderCache = field(default_factory=FakeOrderCache)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    stock_precheck: bool = True
    units_of_work: list[FakeUnitOfWork] = field(default_factory=list)

    def uow(self) -> FakeUnitOfWork:
        made = FakeUnitOfWork(self.store)
        self.units_of_work.append(made)
        return made

    @property
    def deps(self) -> Dependencies:
        return Dependencies(
            uow=self.uow,
            inventory=self.inventory,
            cache=self.cache,
            price_book=self.price_book,
            metrics=self.metrics,
            stock_precheck=self.stock_precheck,
        )
