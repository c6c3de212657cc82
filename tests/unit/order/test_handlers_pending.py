"""The pending watch on in-memory fakes: the oldest PENDING order's age, one incident per overdue order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from order_svc.domain.model import Order, OrderLine
from order_svc.domain.status import OrderStatus
from order_svc.entrypoints import workers
from order_svc.service_layer.pending import PendingWatch
from tests.unit.order.fakes import START, Fakes


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 5.0) -> None:
    """Waits for ``condition`` (the loops run on this event loop), failing at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.001)


def pending(fakes: Fakes, order_id: str, minutes_ago: float) -> None:
    order = Order(order_id, "c-1", "EUR", [OrderLine("p-1", 1, "Widget", 250)])
    order.created_at = START - timedelta(minutes=minutes_ago)
    fakes.store.add_order(order)


async def test_the_age_of_the_oldest_pending_order_is_measured() -> None:
    fakes = Fakes()
    watch = PendingWatch(fakes.deps, incident_after_s=600)
    assert await watch.check(START) == []
    assert fakes.metrics.oldest_pending_s == 0.0

    pending(fakes, "o-1", minutes_ago=2)
    pending(fakes, "o-2", minutes_ago=1)
    assert await watch.check(START) == []
    assert fakes.metrics.oldest_pending_s == 120.0


async def test_each_overdue_order_is_one_incident_until_it_leaves_pending(caplog: pytest.LogCaptureFixture) -> None:
    fakes = Fakes()
    pending(fakes, "o-late", minutes_ago=10)
    pending(fakes, "o-fresh", minutes_ago=1)
    watch = PendingWatch(fakes.deps, incident_after_s=300)

    with caplog.at_level(logging.ERROR, logger="order_svc.service_layer.pending"):
        assert await watch.check(START) == ["o-late"]
        assert await watch.check(START + timedelta(seconds=10)) == []  # once, not every tick
    assert fakes.metrics.incidents == 1
    [incident] = caplog.records
    assert (incident.__dict__["order_id"], incident.__dict__["pending_s"]) == ("o-late", 600.0)

    fakes.store.order("o-late").status = OrderStatus.CONFIRMED
    assert await watch.check(START + timedelta(minutes=5)) == ["o-fresh"]
    assert fakes.metrics.oldest_pending_s == 360.0  # o-fresh, placed a minute before START


async def test_the_pending_worker_checks_until_stopped_and_survives_a_failing_check() -> None:
    fakes = Fakes()
    pending(fakes, "o-late", minutes_ago=10)
    ticks: list[None] = []

    def clock() -> datetime:
        ticks.append(None)
        if len(ticks) == 1:
            raise RuntimeError("the database is away")  # the loop logs it and tries again
        return START

    stop = asyncio.Event()
    run = workers.pending_watch(fakes.deps, incident_after_s=60, interval_s=0.001, clock=clock)
    task = asyncio.create_task(run(stop))
    try:
        await until(lambda: fakes.metrics.incidents == 1, "the overdue order reported")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert len(ticks) >= 2


async def test_the_sweeper_cancels_unpaid_orders_and_stops() -> None:
    fakes = Fakes()
    order = Order("o-1", "c-1", "EUR", [OrderLine("p-1", 1, "Widget", 250)], status=OrderStatus.CONFIRMED)
    fakes.store.add_order(order, confirmed_at=START - timedelta(hours=1))
    stop = asyncio.Event()
    sweep = workers.unpaid_sweeper(fakes.deps, payment_timeout_s=1800, interval_s=0.001, clock=lambda: START)
    task = asyncio.create_task(sweep(stop))
    try:
        await until(lambda: fakes.store.order("o-1").status is OrderStatus.CANCELLED, "o-1 cancelled")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_two_replicas_watching_report_each_overdue_order_once(caplog: pytest.LogCaptureFixture) -> None:
    fakes = Fakes()
    pending(fakes, "o-late", minutes_ago=10)
    first, second = PendingWatch(fakes.deps, incident_after_s=300), PendingWatch(fakes.deps, incident_after_s=300)

    with caplog.at_level(logging.ERROR, logger="order_svc.service_layer.pending"):
        assert await first.check(START) == ["o-late"]
        assert await second.check(START) == []  # claimed by the first replica
        # A restarted replica (a fresh watch) does not report it again either.
        assert await PendingWatch(fakes.deps, incident_after_s=300).check(START) == []
    assert fakes.metrics.incidents == 1
    assert len(caplog.records) == 1
