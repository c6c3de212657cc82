"""The process's loops, as ``mesh.serving.server.Worker`` callables: the event consumer and the
dispatchers (notifications, webhook deliveries).

The dispatcher runs at once when woken (a local commit), otherwise on a periodic poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from mesh.messaging.kafka import EventConsumer, KafkaProducer
from mesh.resilience.retry import Backoff
from mesh.serving.server import Worker

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """What the loop drives: the notifications' dispatcher and the webhooks' both are one."""

    async def start_due(self) -> tuple[int, int]: ...
    async def wait_for_a_free_slot(self) -> None: ...
    async def drain(self) -> None: ...


class DispatchWorker:
    def __init__(self, dispatcher: Dispatcher, *, poll_interval_s: float, woken: asyncio.Event) -> None:
        self._dispatcher = dispatcher
        self._poll_interval_s = poll_interval_s
        # Set by the handlers' after-commit callback when they created due work.
        self._woken = woken

    async def run(self, stop: asyncio.Event) -> None:
        backoff = Backoff(initial_s=0.2, max_s=10.0)
        try:
            while not stop.is_set():
                # Cleared before claiming, so a wake-up that arrives meanwhile is not lost.
                self._woken.clear()
                try:
                    wanted, claimed = await self._dispatcher.start_due()
                    backoff.reset()
                except Exception as exc:  # noqa: BLE001 - delivery must keep going; rows wait safely in the DB
                    log.warning("claiming due rows failed, backing off", extra={"error": repr(exc)})
                    await backoff.wait(stop)
                    continue
                if claimed < wanted:
                    # Nothing more is due: sleep until a local commit, the poll, or shutdown.
                    await _first(stop.wait(), self._woken.wait(), asyncio.sleep(self._poll_interval_s))
                else:
                    # Every slot is busy (or was just filled): claim more as soon as one frees.
                    await _first(stop.wait(), self._dispatcher.wait_for_a_free_slot())
        finally:
            await self._dispatcher.drain()


def consumer_worker(consumer: EventConsumer, dead_letters: KafkaProducer) -> Worker:
    """Consumes order events until stopped; what cannot be handled goes to the dead-letter producer."""

    async def consume(stop: asyncio.Event) -> None:
        # Started with the process too (start is idempotent): operators' replays use it.
        await dead_letters.start()
        try:
            await consumer.run(stop)
        finally:
            await dead_letters.stop()

    return consume


async def _first(*waits: Coroutine[Any, Any, object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
