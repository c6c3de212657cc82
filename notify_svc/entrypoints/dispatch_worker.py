"""Runs the dispatcher: at once when woken (a local commit), otherwise on a periodic poll."""

from __future__ import annotations

import asyncio
import logging

from mesh.retry import Backoff
from notify_svc.service_layer.delivery import Dispatcher

log = logging.getLogger(__name__)


class DispatchWorker:
    def __init__(self, dispatcher: Dispatcher, *, poll_interval_s: float, woken: asyncio.Event) -> None:
        self._dispatcher = dispatcher
        self._poll_interval_s = poll_interval_s
        # Set by the handlers' after-commit callback when they created due work.
        self._woken = woken

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial_s=0.2, max_s=10.0)
        while not stop.is_set():
            # Cleared before the batch, so a wake-up that arrives while sending is not lost.
            self._woken.clear()
            try:
                claimed = await self._dispatcher.dispatch_due()
                backoff.reset()
            except Exception as exc:  # noqa: BLE001 - delivery must keep going; the rows wait safely in the DB
                log.warning("dispatching failed, backing off", extra={"error": repr(exc)})
                await backoff.wait(stop)
                continue
            if claimed < self._dispatcher.batch_size:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._woken.wait())]
        try:
            await asyncio.wait(waits, timeout=self._poll_interval_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
