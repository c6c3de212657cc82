"""Delivering recorded notifications: claim due rows, send each, record the outcome.

"Record, then send": the row exists (PENDING) before any send. A batch is claimed in one short
transaction (``FOR UPDATE SKIP LOCKED``, so several dispatchers never take the same row) that
begins an attempt on each row and leases it; the send happens outside any transaction; each
outcome is recorded in its own short transaction. A dispatcher that dies after the mail server
accepted a message but before SENT was recorded leaves the row leased; when the lease runs
out it is sent again with the same Message-ID (the documented duplicate window).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from mesh.resilience.retry import Backoff, is_transient
from notify_svc.domain.model import Notification, Status
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.service_layer.ports import DeliveryError, Dependencies

log = logging.getLogger(__name__)

_Recorder = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class DeliverySettings:
    policy: RetryPolicy
    # Sends in flight at most; rows are claimed only for free slots, so a slow send holds one
    # slot rather than a whole batch, and a claimed row never waits in memory for a slot.
    concurrency: int = 8
    # How long a claimed row is ours; a send is cut off at half of it so it never outlives it.
    lease: timedelta = timedelta(seconds=120)


class Dispatcher:
    def __init__(self, deps: Dependencies, settings: DeliverySettings) -> None:
        self._deps = deps
        self._settings = settings
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def free_slots(self) -> int:
        return self._settings.concurrency - len(self._in_flight)

    async def start_due(self) -> tuple[int, int]:
        """Claims due rows for the free slots and starts their deliveries; returns (wanted, claimed)."""
        wanted = self.free_slots
        if wanted <= 0:
            return 0, 0
        claimed = await self._claim(wanted)
        for notification in claimed:
            task = asyncio.create_task(self._deliver(notification), name=f"deliver-{notification.notification_id}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return wanted, len(claimed)

    async def wait_for_a_free_slot(self) -> None:
        if self._in_flight and self.free_slots <= 0:
            await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)

    async def drain(self) -> None:
        """Waits for every delivery in flight to record its outcome (at shutdown: no resend needed)."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))

    async def dispatch_due(self) -> int:
        """Claims what is due (up to the free slots), delivers it and waits; returns how many."""
        _, claimed = await self.start_due()
        await self.drain()
        return claimed

    async def _claim(self, limit: int) -> list[Notification]:
        async with self._deps.uow() as uow:
            now = self._deps.clock()
            batch = await uow.notifications.claim_due(now, limit)
            for notification in batch:
                notification.begin_attempt(now, self._settings.lease)
            await uow.notifications.save(batch)
            await uow.commit()
        return batch

    async def _deliver(self, notification: Notification) -> None:
        error = await self._send(notification)
        try:
            if error is None:
                await self._persist(lambda: self._record_sent(notification))
            else:
                await self._persist(lambda: self._record_failure(notification, error))
        except Exception as exc:  # noqa: BLE001 - a task of its own: nobody else would see the error
            # The row stays leased and is delivered again once the lease runs out.
            log.error(
                "could not record a delivery outcome",
                extra={"notification_id": notification.notification_id, "sent": error is None, "error": repr(exc)},
            )

    async def _send(self, notification: Notification) -> DeliveryError | None:
        channel = self._deps.channels.get(notification.channel)
        if channel is None:
            return DeliveryError(f"no {notification.channel!r} channel is configured", retriable=True)
        timeout_s = self._settings.lease.total_seconds() / 2
        try:
            async with asyncio.timeout(timeout_s):
                await channel.send(notification)
        except DeliveryError as exc:
            return exc
        except TimeoutError:
            return DeliveryError(f"send did not finish within {timeout_s:g}s", retriable=True)
        except Exception as exc:  # a channel bug must cost this notification a retry, not the batch
            log.exception("channel raised an unexpected error", extra={"notification_id": notification.notification_id})
            return DeliveryError(f"unexpected {type(exc).__name__}: {exc}", retriable=True)
        return None

    async def _persist(self, record: _Recorder) -> None:
        # The outcome is worth retrying for a while (a SENT mark that is lost means a resend),
        # but not past the lease, after which another dispatcher may already own the row.
        backoff = Backoff(initial_s=0.1, max_s=2.0)
        deadline = asyncio.get_running_loop().time() + self._settings.lease.total_seconds() / 2
        while True:
            try:
                await record()
                return
            except Exception as exc:
                if not is_transient(exc) or asyncio.get_running_loop().time() >= deadline:
                    raise
                log.warning("recording a delivery outcome failed, retrying", extra={"error": repr(exc)})
                await backoff.wait()

    async def _record_sent(self, claimed: Notification) -> None:
        async with self._deps.uow() as uow:
            current = await uow.notifications.get(claimed.notification_id, for_update=True)
            if current is None or current.status is not Status.PENDING:
                # Another dispatcher took over after our lease ran out and settled it already.
                log.warning("sent notification was already settled", extra={"notification_id": claimed.notification_id})
                return
            current.mark_sent(self._deps.clock())
            await uow.notifications.save([current])
            await uow.commit()
        self._deps.metrics.sent(current.channel)

    async def _record_failure(self, claimed: Notification, error: DeliveryError) -> None:
        async with self._deps.uow() as uow:
            current = await uow.notifications.get(claimed.notification_id, for_update=True)
            if current is None or current.status is not Status.PENDING or current.attempts != claimed.attempts:
                return  # no longer our attempt: whoever owns it now records its own outcome
            again = current.attempt_failed(
                str(error), retriable=error.retriable, now=self._deps.clock(), policy=self._settings.policy
            )
            await uow.notifications.save([current])
            await uow.commit()
        log.info(
            "delivery failed",
            extra={
                "notification_id": current.notification_id,
                "attempts": current.attempts,
                "retry": again,
                "error": str(error),
            },
        )
        (self._deps.metrics.retried if again else self._deps.metrics.failed)(current.channel)
