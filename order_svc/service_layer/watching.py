"""WatchOrder's reads, shared: one database read per watched order per change or tick, whatever
the number of watchers.

Each watched order has one feed: a task that subscribes to the order's change notifications,
reads the order, and publishes the result as a numbered snapshot to every watcher of that order.
It re-reads on a notification and at least every ``refresh_s`` (a notification lost while the
LISTEN connection reconnects delays an update but never loses it); notifications that arrive
while a read is running, or within ``min_gap_s`` of the last read, are coalesced into one read.
The feed starts with its first watcher and stops with its last (reference counting).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from mesh.serving.stream_slots import StreamSlots
from order_svc.domain.model import Order
from order_svc.domain.status import FINAL_STATUSES
from order_svc.service_layer.lifecycle import visible_to
from order_svc.service_layer.ports import Caller, ChangeSignals

log = logging.getLogger(__name__)

OrderReader = Callable[[str], Awaitable[Order | None]]


@dataclass(frozen=True)
class Snapshot:
    """The result of one read: the order (None: missing) or the error the read raised."""

    number: int
    order: Order | None
    error: Exception | None = None

    def order_for(self, caller: Caller, order_id: str) -> Order:
        if self.error is not None:
            raise self.error
        return visible_to(caller, order_id, self.order)


class _Feed:
    def __init__(self, order_id: str, read: OrderReader, signals: ChangeSignals, refresh_s: float, min_gap_s: float):
        self.order_id = order_id
        self.watchers = 0
        self._read = read
        self._signals = signals
        self._refresh_s = refresh_s
        self._min_gap_s = min_gap_s
        self._latest: Snapshot | None = None
        self._published = asyncio.Event()  # replaced by a fresh one at each snapshot
        self._again = asyncio.Event()  # a watcher asks for a read now (after an error)
        # An empty context: the shared reads belong to no one caller's trace or log fields.
        self.task = asyncio.create_task(self._run(), name=f"order-feed-{order_id[:64]}", context=contextvars.Context())

    async def snapshot_after(self, number: int) -> Snapshot:
        """The first snapshot numbered above ``number`` (waits for the feed to publish one)."""
        while self._latest is None or self._latest.number <= number:
            await self._published.wait()
        return self._latest

    async def first(self) -> Snapshot:
        """The latest snapshot for a new watcher; a failed read is retried once for it, not reused."""
        latest = await self.snapshot_after(0)
        if latest.error is not None and not self.task.done():
            self._again.set()
            latest = await self.snapshot_after(latest.number)
        return latest

    def _publish(self, order: Order | None, error: Exception | None) -> None:
        number = self._latest.number + 1 if self._latest else 1
        self._latest = Snapshot(number, order, error)
        published, self._published = self._published, asyncio.Event()
        published.set()

    async def _run(self) -> None:
        try:
            await self._follow_changes()
        except Exception as exc:
            log.exception("order feed failed", extra={"order_id": self.order_id})
            self._publish(None, exc)

    async def _follow_changes(self) -> None:
        loop = asyncio.get_running_loop()
        # Subscribed before the first read, so no change can slip between the two.
        async with self._signals.subscribe(self.order_id) as changed:
            while True:
                changed.clear()
                self._again.clear()
                last_read = loop.time()
                try:
                    order = await self._read(self.order_id)
                except Exception as exc:  # noqa: BLE001 - every watcher sees the failure as its own
                    log.warning("watched order read failed", extra={"order_id": self.order_id, "error": repr(exc)})
                    self._publish(None, exc)
                else:
                    self._publish(order, None)
                    if order is not None and order.status in FINAL_STATUSES:
                        return  # a final order never changes again: nothing more to read
                await _first_of(changed, self._again, timeout_s=self._refresh_s)
                # A storm of notifications: at most one read per min_gap_s for this order.
                await asyncio.sleep(max(0.0, last_read + self._min_gap_s - loop.time()))


async def _first_of(*events: asyncio.Event, timeout_s: float) -> None:
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


class OrderFeeds:
    """The feeds of the orders watched in this process, one per order, shared by its watchers."""

    def __init__(
        self, read: OrderReader, signals: ChangeSignals, *, refresh_s: float = 5.0, min_gap_s: float = 0.05
    ) -> None:
        self._read = read
        self._signals = signals
        self._refresh_s = refresh_s
        self._min_gap_s = min_gap_s
        self._feeds: dict[str, _Feed] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._feeds)

    @contextlib.asynccontextmanager
    async def join(self, order_id: str) -> AsyncIterator[_Feed]:
        feed = self._feeds.get(order_id)
        if feed is None:
            feed = self._feeds[order_id] = _Feed(order_id, self._read, self._signals, self._refresh_s, self._min_gap_s)
        feed.watchers += 1
        try:
            yield feed
        finally:
            feed.watchers -= 1
            if feed.watchers == 0:
                del self._feeds[order_id]
                self._stop(feed)

    def _stop(self, feed: _Feed) -> None:
        # Not awaited: the last watcher may itself be being cancelled. Kept referenced until done.
        feed.task.cancel()
        self._stopping.add(feed.task)
        feed.task.add_done_callback(self._stopping.discard)


async def follow(order_id: str, caller: Caller, feeds: OrderFeeds, *, until: float) -> AsyncIterator[Order]:
    """The order now, then each newer version, until it is final or the loop clock reaches ``until``.

    Raises NotFound for an order that is missing or not the caller's, and whatever a read raised.
    """
    loop = asyncio.get_running_loop()
    async with feeds.join(order_id) as feed:
        snapshot = await feed.first()
        order = snapshot.order_for(caller, order_id)
        yield order
        seen = order.version
        while order.status not in FINAL_STATUSES:
            remaining = until - loop.time()
            if remaining <= 0:
                return
            try:
                snapshot = await asyncio.wait_for(feed.snapshot_after(snapshot.number), remaining)
            except TimeoutError:
                return
            order = snapshot.order_for(caller, order_id)
            if order.version > seen:
                seen = order.version
                yield order


@dataclass(frozen=True)
class Watching:
    """What WatchOrder needs: the shared feeds, the stream caps and the lifetime."""

    feeds: OrderFeeds
    slots: StreamSlots
    max_lifetime_s: float
