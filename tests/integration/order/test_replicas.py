"""Two order_svc replicas on one database: the unpaid sweeper and the pending watch.

Each replica is its own engine (its own connections, as two processes have). A replica is
paused at the commit of its claim through ``GatedUnitOfWork`` (its row locks or claims held), so
the tests know it holds work rather than hoping it does; "killed" is its backend connection
terminated, which is what PostgreSQL sees of a SIGKILLed process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import asyncpg
import pytest
import sqlalchemy as sa

from mesh.storage.engine import asyncpg_dsn, create_engine, session_factory
from order_svc.domain.customer import Customer
from order_svc.domain.placement import RequestedLine
from order_svc.entrypoints import workers
from order_svc.service_layer.pending import PendingWatch
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Caller, Dependencies, UnitOfWork
from order_svc.service_layer.saga import ReservationOutcome, apply_reservation_outcome, cancel_unpaid
from testkit.wait import eventually
from tests.integration.order.conftest import sql_dependencies

pytestmark = pytest.mark.integration
ADMIN = Caller("admin-1", is_admin=True)
ORDERS = 12


class GatedUnitOfWork:
    """A unit of work that, at commit, says so (with its backend pid) and waits to be let through."""

    def __init__(self, inner: Any, gate: Gate) -> None:
        self._inner = inner
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aenter__(self) -> Self:
        await self._inner.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._inner.__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        self._gate.backend_pid = (await self._inner.session.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()
        self._gate.reached.set()
        await self._gate.open.wait()
        await self._inner.commit()


class Gate:
    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.open = asyncio.Event()
        self.backend_pid = 0


Replica = Callable[..., Awaitable[Dependencies]]


@pytest.fixture
async def replica(database_factory: Callable[[str], Awaitable[str]]) -> AsyncIterator[Replica]:
    """``await replica()`` → the ports of one more replica on the test's one database."""
    url = await database_factory("order_svc")
    engines = []

    async def make(gate: Gate | None = None) -> Dependencies:
        engine = create_engine(url, pool_size=2)
        engines.append(engine)
        deps = sql_dependencies(session_factory(engine))
        if gate is not None:
            plain = deps.uow
            deps = replace(deps, uow=lambda: GatedUnitOfWork(plain(), gate))  # type: ignore[arg-type,return-value]
        return deps

    make.url = url  # type: ignore[attr-defined]
    yield make
    for engine in engines:
        await engine.dispose()


async def kill(url: str, backend_pid: int) -> None:
    """Ends a replica's connection as the death of its process would (its transaction rolls back)."""
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", backend_pid)
    finally:
        await conn.close()


async def stop_task(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(task, timeout=10)


async def placed_orders(deps: Dependencies, *, confirmed: bool) -> list[str]:
    customer = f"c-{uuid.uuid4().hex[:8]}"
    async with deps.uow() as uow:
        await uow.customers.add(Customer(customer, "Pat", "pat@example.com", ""))
        await uow.commit()
    ids = []
    for _ in range(ORDERS):
        order = await place_order(PlaceOrder(customer, [RequestedLine("p-1", 1)]), ADMIN, deps)
        if confirmed:
            await apply_reservation_outcome(ReservationOutcome(f"evt-{order.order_id}", order.order_id, True), deps)
        ids.append(order.order_id)
    return ids


async def statuses(deps: Dependencies, order_ids: list[str]) -> dict[str, str]:
    async with deps.uow() as uow:
        rows = await uow.session.execute(  # type: ignore[attr-defined]
            sa.text("SELECT order_id, status FROM orders WHERE order_id = ANY(:ids)"), {"ids": order_ids}
        )
        return {row.order_id: row.status for row in rows}


async def cancellations(deps: Dependencies, order_ids: list[str]) -> dict[str, int]:
    """OrderCancelled outbox rows per order: the event each cancellation publishes."""
    async with deps.uow() as uow:
        rows = await uow.session.execute(  # type: ignore[attr-defined]
            sa.text(
                "SELECT message_key, count(*) AS n FROM outbox WHERE event_type = 'oms.order.v1.OrderCancelled' "
                "AND message_key = ANY(:ids) GROUP BY message_key"
            ),
            {"ids": order_ids},
        )
        return {row.message_key: row.n for row in rows}


def sweeper(deps: Dependencies) -> asyncio.Task[None]:
    """A replica's sweeper loop (everything confirmed before now is due)."""
    run = workers.unpaid_sweeper(deps, payment_timeout_s=0, interval_s=0.05)
    return asyncio.create_task(run(stop := asyncio.Event()), name=f"sweeper-{id(stop)}")


async def test_two_sweepers_cancel_each_unpaid_order_once_and_publish_one_event(replica: Replica) -> None:
    gate = Gate()
    first, second = await replica(gate), await replica()
    order_ids = await placed_orders(second, confirmed=True)
    cutoff = datetime.now(UTC) + timedelta(minutes=1)

    # The first replica locks a batch and holds it, uncommitted, while the second sweeps.
    held = asyncio.create_task(cancel_unpaid(cutoff, first, batch=5))
    await asyncio.wait_for(gate.reached.wait(), timeout=10)
    other = sweeper(second)
    try:
        seen = await eventually(
            lambda: statuses(second, order_ids),
            until=lambda s: list(s.values()).count("CANCELLED") == ORDERS - 5,
            timeout_s=10,
            what="the second sweeper cancelling every order the first does not hold",
        )
        gate.open.set()
        assert await asyncio.wait_for(held, timeout=10) == 5
        await eventually(
            lambda: statuses(second, order_ids),
            until=lambda s: set(s.values()) == {"CANCELLED"},
            timeout_s=10,
            what="every order cancelled",
        )
    finally:
        await stop_task(held)
        await stop_task(other)
    assert list(seen.values()).count("CONFIRMED") == 5  # the held ones were skipped, not waited for
    assert await cancellations(second, order_ids) == {order_id: 1 for order_id in order_ids}


async def test_a_sweeper_killed_holding_orders_leaves_them_to_the_other(replica: Replica) -> None:
    gate = Gate()
    doomed, survivor = await replica(gate), await replica()
    order_ids = await placed_orders(survivor, confirmed=True)

    held = asyncio.create_task(cancel_unpaid(datetime.now(UTC) + timedelta(minutes=1), doomed, batch=ORDERS))
    await asyncio.wait_for(gate.reached.wait(), timeout=10)  # every order locked by the doomed replica
    other = sweeper(survivor)
    try:
        await kill(replica.url, gate.backend_pid)  # type: ignore[attr-defined]
        await stop_task(held)
        await eventually(
            lambda: statuses(survivor, order_ids),
            until=lambda s: set(s.values()) == {"CANCELLED"},
            timeout_s=10,
            what="the surviving sweeper cancelling the killed one's orders",
        )
    finally:
        await stop_task(held)
        await stop_task(other)
    assert await cancellations(survivor, order_ids) == {order_id: 1 for order_id in order_ids}


async def test_two_pending_watches_report_each_overdue_order_once(
    replica: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = await replica(), await replica()
    order_ids = await placed_orders(first, confirmed=False)
    later = datetime.now(UTC) + timedelta(minutes=5)
    watches = [PendingWatch(deps, incident_after_s=60) for deps in (first, second)]

    with caplog.at_level(logging.ERROR, logger="order_svc.service_layer.pending"):
        reported = await asyncio.gather(*(watch.check(later) for watch in watches))
        # Next ticks, and a replica restarted (a watch with nothing in memory), report nothing.
        again = await asyncio.gather(*(w.check(later) for w in [*watches, PendingWatch(second, incident_after_s=60)]))
    assert sorted(reported[0] + reported[1]) == sorted(order_ids)
    assert not set(reported[0]) & set(reported[1])
    assert again == [[], [], []]
    assert sorted(r.__dict__["order_id"] for r in caplog.records) == sorted(order_ids)


async def test_a_watch_killed_while_claiming_leaves_the_incidents_to_the_other(
    replica: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate()
    doomed, survivor = await replica(gate), await replica()
    order_ids = await placed_orders(survivor, confirmed=False)
    later = datetime.now(UTC) + timedelta(minutes=5)

    with caplog.at_level(logging.ERROR, logger="order_svc.service_layer.pending"):
        claiming = asyncio.create_task(PendingWatch(doomed, incident_after_s=60).check(later))
        await asyncio.wait_for(gate.reached.wait(), timeout=10)  # claimed, not committed, not logged
        await kill(replica.url, gate.backend_pid)  # type: ignore[attr-defined]
        await stop_task(claiming)
        reported = await PendingWatch(survivor, incident_after_s=60).check(later)
    assert sorted(reported) == sorted(order_ids)
    assert sorted(r.__dict__["order_id"] for r in caplog.records) == sorted(order_ids)


_ = UnitOfWork  # the gated unit of work stands in for this port
