"""The dispatch worker (entrypoints/workers.py): woken at once by a local commit, bounded in flight, drained at stop."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from notify_svc.domain.model import Notification, Status
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.entrypoints.workers import DispatchWorker
from notify_svc.service_layer.delivery import DeliverySettings, Dispatcher
from notify_svc.service_layer.notifications import record_order_event
from testkit.wait import eventually
from tests.unit.notify.fakes import FakeChannel, Harness, placed


class SlowChannel(FakeChannel):
    """Holds every send until released, and remembers the most sends it saw at once."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, notification: Notification) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
            await super().send(notification)
        finally:
            self.in_flight -= 1


def worker_for(h: Harness, *, concurrency: int = 8) -> DispatchWorker:
    woken = asyncio.Event()

    async def wake() -> None:
        woken.set()

    h.deps = dataclasses.replace(h.deps, wake=wake)
    settings = DeliverySettings(policy=RetryPolicy(), concurrency=concurrency, lease=timedelta(seconds=30))
    # An hour-long poll: only the wake-up can make the worker look again within the test.
    return DispatchWorker(Dispatcher(h.deps, settings), poll_interval_s=3600, woken=woken)


async def test_a_local_commit_wakes_the_worker_at_once() -> None:
    h = Harness()
    worker = worker_for(h)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0)  # let it claim nothing and go idle
        [n] = await record_order_event(placed(), h.deps)
        await eventually(
            lambda: _status(h, n.notification_id), until=lambda s: s is Status.SENT, timeout_s=2, what="sent"
        )
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=5)


async def test_no_more_than_concurrency_sends_in_flight_and_stop_drains_them() -> None:
    h = Harness()
    slow = SlowChannel()
    h.channel = slow
    h.deps = dataclasses.replace(h.deps, channels={"email": slow})
    worker = worker_for(h, concurrency=2)
    for i in range(5):
        await record_order_event(placed(f"ev-{i}", order_id=f"ord-{i}"), h.deps)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))

    await eventually(lambda: _in_flight(slow), until=lambda n: n == 2, timeout_s=2, what="two sends in flight")
    stop.set()
    slow.release.set()
    await asyncio.wait_for(running, timeout=5)

    assert slow.most_in_flight == 2
    statuses = sorted(r.status.value for r in h.repo.rows.values())
    # The two in flight at stop finished and were recorded; the others wait, PENDING, for the next run.
    assert statuses == ["PENDING", "PENDING", "PENDING", "SENT", "SENT"]


async def _status(h: Harness, notification_id: str) -> Status:
    return h.repo.rows[notification_id].status


async def _in_flight(channel: SlowChannel) -> int:
    return channel.in_flight
