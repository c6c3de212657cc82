"""In-memory fakes of the inventory's own ports (service_layer/ports.py): repositories, unit of
work, catalog cache, metrics, and the Dependencies that bundle them."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Self

from inventory_svc.domain.events import Event
from inventory_svc.domain.model import (
    MAX_STOCK,
    Product,
    ProductChanges,
    Reservation,
    ReservationStatus,
    Shortfall,
    StockLevel,
)
from inventory_svc.domain.paging import ProductQuery
from inventory_svc.service_layer.ports import AfterCommit, Dependencies, ProductPage, Slot, UnitOfWork
from mesh.storage.paging import PageTokens


@dataclass
class Store:
    """The "database": what a committed transaction leaves behind."""

    products: dict[str, Product] = field(default_factory=dict)
    stock: dict[str, StockLevel] = field(default_factory=dict)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    failures: dict[str, tuple[str, list[Shortfall]]] = field(default_factory=dict)
    inbox: set[str] = field(default_factory=set)
    published: list[Event] = field(default_factory=list)
    # Calls of ProductRepository.get_many: batched reads must stay one query. Counted here
    # whether or not the transaction commits (a read-only one never does).
    batch_reads: int = 0


class FakeProducts:
    def __init__(self, store: Store, committed: Store | None = None) -> None:
        self.store = store
        self.committed = committed or store

    def _with_stock(self, product: Product) -> Product:
        level = self.store.stock.get(product.product_id)
        return replace(product, available=level.available if level else 0)

    async def get(self, product_id: str) -> Product | None:
        product = self.store.products.get(product_id)
        return self._with_stock(product) if product else None

    async def get_many(self, product_ids: Sequence[str]) -> list[Product]:
        self.committed.batch_reads += 1
        return [self._with_stock(self.store.products[p]) for p in product_ids if p in self.store.products]

    async def add(self, product: Product) -> Product | None:
        if product.product_id in self.store.products:
            return None
        self.store.products[product.product_id] = product
        self.store.stock[product.product_id] = StockLevel(product.product_id, 0, 0, 0)
        return await self.get(product.product_id)

    async def update(self, product_id: str, changes: ProductChanges) -> Product | None:
        current = self.store.products.get(product_id)
        if current is None:
            return None
        updates = {k: v for k, v in vars(changes).items() if v is not None}
        if changes.price is not None:
            updates["price"] = changes.price.applied_to(current.price)
        self.store.products[product_id] = replace(current, **updates)
        return await self.get(product_id)

    async def delete(self, product_id: str) -> bool:
        self.store.stock.pop(product_id, None)
        return self.store.products.pop(product_id, None) is not None

    async def list(self, query: ProductQuery, after: str | None, limit: int) -> list[Product]:
        found = [
            self._with_stock(p)
            for product_id, p in sorted(self.store.products.items())
            if (after is None or product_id > after)
            and (query.active is None or p.active == query.active)
            and query.name_contains.lower() in p.name.lower()
        ]
        return found[:limit]


class FakeStock:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, product_id: str) -> StockLevel | None:
        return self.store.stock.get(product_id)

    async def lock(self, product_id: str) -> StockLevel | None:
        return self.store.stock.get(product_id)

    async def availability(self, product_ids: Sequence[str]) -> dict[str, int]:
        return {
            pid: (self.store.stock[pid].available if self.store.products[pid].active else 0)
            for pid in product_ids
            if pid in self.store.products
        }

    def _change(self, product_id: str, ok: Callable[[StockLevel], bool], **delta: int) -> StockLevel | None:
        level = self.store.stock.get(product_id)
        if level is None or not ok(level):
            return None
        quantity = delta.get("set_quantity", level.quantity + delta.get("quantity", 0))
        changed = StockLevel(product_id, quantity, level.reserved + delta.get("reserved", 0), level.version + 1)
        self.store.stock[product_id] = changed
        return changed

    async def try_reserve(self, product_id: str, quantity: int) -> StockLevel | None:
        product = self.store.products.get(product_id)
        if product is None or not product.active:
            return None
        return self._change(product_id, lambda s: s.available >= quantity, reserved=quantity)

    async def release(self, product_id: str, quantity: int) -> StockLevel | None:
        return self._change(product_id, lambda s: s.reserved >= quantity, reserved=-quantity)

    async def ship(self, product_id: str, quantity: int) -> StockLevel | None:
        return self._change(product_id, lambda s: s.reserved >= quantity, reserved=-quantity, quantity=-quantity)

    async def add(self, product_id: str, quantity: int) -> StockLevel | None:
        # The SQL adapter's condition, as the database's CHECK would also insist.
        return self._change(product_id, lambda s: s.quantity + quantity <= MAX_STOCK, quantity=quantity)

    async def audit(self, product_id: str, counted: int, expected_version: int) -> StockLevel | None:
        return self._change(
            product_id, lambda s: s.version == expected_version and s.reserved <= counted, set_quantity=counted
        )


class FakeReservations:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get_for_update(self, order_id: str) -> Reservation | None:
        found = self.store.reservations.get(order_id)
        return copy.deepcopy(found)

    async def add(self, reservation: Reservation) -> None:
        assert reservation.order_id not in self.store.reservations
        self.store.reservations[reservation.order_id] = copy.deepcopy(reservation)

    async def save_status(self, reservation: Reservation) -> None:
        self.store.reservations[reservation.order_id].status = reservation.status

    async def outcome_recorded(self, order_id: str) -> bool:
        return order_id in self.store.reservations or order_id in self.store.failures

    async def add_failure(self, order_id: str, reason: str, shortfalls: Sequence[Shortfall]) -> None:
        self.store.failures[order_id] = (reason, list(shortfalls))

    async def holds(self, product_id: str) -> bool:
        return any(
            r.status is ReservationStatus.RESERVED and any(line.product_id == product_id for line in r.lines)
            for r in self.store.reservations.values()
        )


class FakeUnitOfWork:
    """Works on a copy of the store; commit replaces the store's contents, anything else drops it."""

    products: FakeProducts
    stock: FakeStock
    reservations: FakeReservations

    def __init__(self, store: Store) -> None:
        self.store = store
        self.commits = 0

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self.store)
        self._events: list[Event] = []
        self._callbacks: list[AfterCommit] = []
        self.products = FakeProducts(self._work, self.store)
        self.stock = FakeStock(self._work)
        self.reservations = FakeReservations(self._work)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._events = []

    def publish(self, *events: Event) -> None:
        self._events.extend(events)

    async def claim(self, event_id: str) -> bool:
        if event_id in self._work.inbox:
            return False
        self._work.inbox.add(event_id)
        return True

    def after_commit(self, callback: AfterCommit) -> None:
        self._callbacks.append(callback)

    async def commit(self) -> None:
        self._work.published.extend(self._events)
        reads = self.store.batch_reads
        self.store.__dict__.update(copy.deepcopy(self._work).__dict__)
        self.store.batch_reads = reads
        self.commits += 1
        for callback in self._callbacks:
            await callback()
        self._callbacks = []


class FakeCatalogCache:
    """A dict with generations, like the Redis one; ``evicted`` records what was invalidated.

    ``down`` is a Redis that cannot be reached: no slot, so readers go to the database."""

    def __init__(self) -> None:
        self.entries: dict[str, object] = {}
        self.generation: dict[str, int] = {}
        self.evicted: list[str] = []
        self.down = False

    def _slot(self, namespace: str, name: str) -> Slot | None:
        return None if self.down else Slot(f"{name}@{self.generation.get(namespace, 0)}")

    async def product_slot(self, product_id: str) -> Slot | None:
        return self._slot(product_id, f"product:{product_id}")

    async def stock_slot(self, product_id: str) -> Slot | None:
        return self._slot(product_id, f"stock:{product_id}")

    async def page_slot(self, query: ProductQuery, page_token: str, size: int) -> Slot | None:
        return self._slot("pages", f"page:{query.fingerprint()}:{page_token}:{size}")

    async def get_product(self, slot: Slot) -> Product | None:
        found = self.entries.get(slot.key)
        return found if isinstance(found, Product) else None

    async def put_product(self, slot: Slot, product: Product) -> None:
        self.entries[slot.key] = product

    async def get_stock(self, slot: Slot) -> StockLevel | None:
        found = self.entries.get(slot.key)
        return found if isinstance(found, StockLevel) else None

    async def put_stock(self, slot: Slot, level: StockLevel) -> None:
        self.entries[slot.key] = level

    async def get_page(self, slot: Slot) -> ProductPage | None:
        found = self.entries.get(slot.key)
        return found if isinstance(found, ProductPage) else None

    async def put_page(self, slot: Slot, page: ProductPage) -> None:
        self.entries[slot.key] = page

    async def evict(self, product_ids: list[str]) -> None:
        for namespace in [*product_ids, "pages"]:
            self.generation[namespace] = self.generation.get(namespace, 0) + 1
        self.evicted.extend(product_ids)


@dataclass
class FakeMetrics:
    """What the entry points counted: (outcome, seconds) per reservation, (event, outcome) else."""

    reservations: list[tuple[str, float]] = field(default_factory=list)
    order_events: list[tuple[str, str]] = field(default_factory=list)

    def reservation(self, outcome: str, seconds: float) -> None:
        self.reservations.append((outcome, seconds))

    def order_event(self, event: str, outcome: str) -> None:
        self.order_events.append((event, outcome))


@dataclass
class Fakes:
    """One test's world: the store, the cache and the metrics the Dependencies are built on;
    ``uows`` lists every unit of work a handler opened (its ``commits`` tell what it did)."""

    store: Store = field(default_factory=Store)
    cache: FakeCatalogCache = field(default_factory=FakeCatalogCache)
    metrics: FakeMetrics = field(default_factory=FakeMetrics)
    page_tokens: PageTokens = field(default_factory=PageTokens.development)
    uows: list[FakeUnitOfWork] = field(default_factory=list)

    def uow(self) -> UnitOfWork:
        uow = FakeUnitOfWork(self.store)
        self.uows.append(uow)
        return uow

    @property
    def commits(self) -> int:
        return sum(uow.commits for uow in self.uows)

    def deps(self) -> Dependencies:
        return Dependencies(uow=self.uow, catalog_cache=self.cache, page_tokens=self.page_tokens, metrics=self.metrics)


def fake_deps(store: Store, cache: FakeCatalogCache | None = None) -> Dependencies:
    """Dependencies on ``store`` (and ``cache``, else a fresh one), with fake metrics."""
    return Fakes(store, cache or FakeCatalogCache()).deps()
