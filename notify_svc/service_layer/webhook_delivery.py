"""Delivering recorded webhook deliveries: claim due rows, POST each, record the outcome.

The same "record, then send" as the notifications' dispatcher (service_layer/delivery.py):
rows are claimed with SKIP LOCKED by any number of replicas, each attempt is counted and the
row leased before the POST, and the outcome is recorded afterwards. A process that dies after
the POST and before the commit leaves the row leased; it is POSTed again when the lease runs
out, with the same ``webhook-id``: the guarantee is at least once, with a stable id the
receiver deduplicates on (docs/webhooks.md).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from mesh.resilience.retry import Backoff, is_transient
from notify_svc.domain.webhooks import DeliveryStatus, JitteredRetry, WebhookDelivery, WebhookEndpoint
from notify_svc.service_layer.ports import Dependencies, WebhookError

log = logging.getLogger(__name__)

WEBHOOK_CHANNEL = "webhook"  # the metrics' channel label


@dataclass(frozen=True)
class WebhookDeliverySettings:
    retry: JitteredRetry
    concurrency: int = 8
    # How long a claimed row is ours; a POST is cut off at half of it so it never outlives it.
    lease: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class _Claimed:
    delivery: WebhookDelivery
    endpoint: WebhookEndpoint


class WebhookDispatcher:
    def __init__(self, deps: Dependencies, settings: WebhookDeliverySettings) -> None:
        if deps.webhooks is None:
            raise ValueError("a WebhookDispatcher needs Dependencies.webhooks")
        self._deps = deps
        self._sender = deps.webhooks
        self._settings = settings
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def free_slots(self) -> int:
        return self._settings.concurrency - len(self._in_flight)

    async def start_due(self) -> tuple[int, int]:
        """Claims due rows for the free slots and starts their POSTs; returns (wanted, claimed)."""
        wanted = self.free_slots
        if wanted <= 0:
            return 0, 0
        claimed = await self._claim(wanted)
        for item in claimed:
            task = asyncio.create_task(self._deliver(item), name=f"webhook-{item.delivery.delivery_id}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return wanted, len(claimed)

    async def wait_for_a_free_slot(self) -> None:
        if self._in_flight and self.free_slots <= 0:
            await asyncio.wait(set(self._in_flight), return_when=asyncio.FIRST_COMPLETED)

    async def drain(self) -> None:
        if self._in_flight:
            await asyncio.wait(set(self._in_flight))

    async def dispatch_due(self) -> int:
        """Claims what is due, delivers it and waits; returns how many were claimed."""
        _, claimed = await self.start_due()
        await self.drain()
        return claimed

    async def _claim(self, limit: int) -> list[_Claimed]:
        claimed: list[_Claimed] = []
        async with self._deps.uow() as uow:
            now = self._deps.clock()
            batch = await uow.deliveries.claim_due(now, limit)
            for delivery in batch:
                endpoint = await uow.endpoints.get(delivery.endpoint_id)
                if endpoint is None or endpoint.disabled:
                    # Nobody to send to: failed, and retryable by an admin once the endpoint is back.
                    why = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
                    delivery.attempt_failed(why, retriable=False, http_status=0, now=now, retry=self._settings.retry)
                    self._deps.metrics.failed(WEBHOOK_CHANNEL)
                    continue
                delivery.begin_attempt(now, self._settings.lease)
                claimed.append(_Claimed(delivery, endpoint))
            await uow.deliveries.save(batch)
            await uow.commit()
        return claimed

    async def _deliver(self, item: _Claimed) -> None:
        status, error = await self._post(item)
        try:
            await self._persist(item.delivery, status, error)
        except Exception as exc:  # noqa: BLE001 - a task of its own: nobody else would see the error
            # The row stays leased and is POSTed again (same webhook-id) once the lease runs out.
            log.error(
                "could not record a webhook outcome",
                extra={"delivery_id": item.delivery.delivery_id, "delivered": error is None, "error": repr(exc)},
            )

    async def _post(self, item: _Claimed) -> tuple[int, WebhookError | None]:
        timeout_s = self._settings.lease.total_seconds() / 2
        try:
            async with asyncio.timeout(timeout_s):
                return await self._sender.post(item.delivery, item.endpoint), None
        except WebhookError as exc:
            return exc.http_status, exc
        except TimeoutError:
            return 0, WebhookError(f"POST did not finish within {timeout_s:g}s", retriable=True)
        except Exception as exc:  # a sender bug must cost this delivery a retry, not the batch
            log.exception("webhook sender raised an unexpected error", extra={"delivery_id": item.delivery.delivery_id})
            return 0, WebhookError(f"unexpected {type(exc).__name__}: {exc}", retriable=True)

    async def _persist(self, claimed: WebhookDelivery, status: int, error: WebhookError | None) -> None:
        backoff = Backoff(initial_s=0.1, max_s=2.0)
        deadline = asyncio.get_running_loop().time() + self._settings.lease.total_seconds() / 2
        while True:
            try:
                await self._record(claimed, status, error)
                return
            except Exception as exc:
                if not is_transient(exc) or asyncio.get_running_loop().time() >= deadline:
                    raise
                log.warning("recording a webhook outcome failed, retrying", extra={"error": repr(exc)})
                await backoff.wait()

    async def _record(self, claimed: WebhookDelivery, status: int, error: WebhookError | None) -> None:
        async with self._deps.uow() as uow:
            current = await uow.deliveries.get(claimed.delivery_id, for_update=True)
            if current is None or current.status is not DeliveryStatus.PENDING or current.attempts != claimed.attempts:
                # No longer our attempt (the lease ran out and another dispatcher took it over).
                log.warning("webhook outcome of a superseded attempt", extra={"delivery_id": claimed.delivery_id})
                return
            now = self._deps.clock()
            if error is None:
                current.mark_delivered(now, status)
                again = False
            else:
                again = current.attempt_failed(
                    str(error), retriable=error.retriable, http_status=status, now=now, retry=self._settings.retry
                )
            await uow.deliveries.save([current])
            await uow.commit()
        if error is None:
            self._deps.metrics.sent(WEBHOOK_CHANNEL)
            return
        log.info(
            "webhook delivery failed",
            extra={
                "delivery_id": current.delivery_id,
                "attempts": current.attempts,
                "retry": again,
                "error": str(error),
            },
        )
        (self._deps.metrics.retried if again else self._deps.metrics.failed)(WEBHOOK_CHANNEL)
