"""The order process's background loops, as ``Worker`` callables ``serve`` runs until stop.

Each is safe with several replicas running (docs/operations.md, "Background work with several
replicas"): the sweeper locks the orders it cancels (SKIP LOCKED), so each is cancelled, and its
event written, once; the pending watch claims each overdue order's incident in the database
before it reports it, so one replica reports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from mesh.resilience.retry import Backoff
from mesh.serving.server import Worker
from order_svc.service_layer.pending import PendingWatch
from order_svc.service_layer.ports import Dependencies
from order_svc.service_layer.saga import cancel_unpaid

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def unpaid_sweeper(
    deps: Dependencies, *, payment_timeout_s: float, interval_s: float, clock: Clock = _utc_now
) -> Worker:
    """Cancels CONFIRMED orders not paid within ``payment_timeout_s`` (their stock is released)."""

    async def sweep(stop: asyncio.Event) -> None:
        backoff = Backoff(initial_s=1.0, max_s=30.0)
        while not stop.is_set():
            try:
                cancelled = await cancel_unpaid(clock() - timedelta(seconds=payment_timeout_s), deps)
                backoff.reset()
            except Exception:
                log.exception("unpaid-order sweep failed")
                await backoff.wait(stop)
                continue
            if cancelled:
                continue  # more may be due: sweep again at once
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    return sweep


def pending_watch(deps: Dependencies, *, incident_after_s: float, interval_s: float, clock: Clock = _utc_now) -> Worker:
    """Measures the oldest PENDING order's age and reports each overdue one (PendingWatch)."""
    watch = PendingWatch(deps, incident_after_s=incident_after_s)

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await watch.check(clock())
            except Exception:
                # A database outage must not end the process: the next tick tries again.
                log.exception("pending-order check failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    return run
