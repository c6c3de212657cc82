"""Tells the watched orders' feeds in this process that their order changed.

A trigger on ``orders`` NOTIFYs ``oms_order_changed`` with the order id at commit, whichever
instance made the change; one LISTEN connection per process fans that out to the subscribers:
one feed per watched order (``order_svc.service_layer.watching``), which reads it once for all
its WatchOrder streams. Feeds also re-read on a timer, so a notification lost while
reconnecting delays an update but never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator

import asyncpg

from mesh.resilience.retry import Backoff

log = logging.getLogger(__name__)
CHANNEL = "oms_order_changed"


class WatchHub:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._watchers: dict[str, set[asyncio.Event]] = defaultdict(set)

    @contextlib.asynccontextmanager
    async def subscribe(self, order_id: str) -> AsyncIterator[asyncio.Event]:
        changed = asyncio.Event()
        self._watchers[order_id].add(changed)
        try:
            yield changed
        finally:
            self._watchers[order_id].discard(changed)
            if not self._watchers[order_id]:
                del self._watchers[order_id]

    def notify(self, order_id: str) -> None:
        for changed in self._watchers.get(order_id, ()):
            changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial_s=0.2, max_s=5.0)
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self._dsn, timeout=10)
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("watch hub cannot listen, retrying", extra={"error": str(exc)})
                await backoff.wait(stop)
                continue
            backoff.reset()
            try:
                await conn.add_listener(CHANNEL, lambda _c, _p, _ch, payload: self.notify(payload))
                # Changes made while we were disconnected: wake everyone to re-read.
                for order_id in list(self._watchers):
                    self.notify(order_id)
                while not stop.is_set() and not conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=1.0)
            finally:
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)
