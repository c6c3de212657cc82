"""The process's long-running loops, as mesh.serving.server Workers: the outbox relay, the
event consumer and the reconciler (owed provider steps that are due: retries after a provider
was down or timed out, and steps a crashed process left behind)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mesh.messaging.kafka import EventConsumer, KafkaProducer
from mesh.messaging.relay import OutboxRelay
from mesh.resilience.retry import Backoff
from mesh.serving.server import Worker
from payment_svc.service_layer import steps
from payment_svc.service_layer.ports import Dependencies

log = logging.getLogger(__name__)


def outbox_relay(relay: OutboxRelay, producer: KafkaProducer) -> Worker:
    async def run(stop: asyncio.Event) -> None:
        await producer.start()
        await relay.run(stop)

    return run


def payment_events(consumer: EventConsumer, producer: KafkaProducer) -> Worker:
    async def run(stop: asyncio.Event) -> None:
        await producer.start()
        await consumer.run(stop)

    return run


def reconciler(deps: Dependencies, *, poll_s: float) -> Worker:
    """Settles due steps until stopped; several replicas may run it (claims skip locked rows)."""

    async def run(stop: asyncio.Event) -> None:
        backoff = Backoff(initial_s=0.2, max_s=10.0)
        while not stop.is_set():
            try:
                settled = await steps.reconcile_due(deps)
                backoff.reset()
            except Exception as exc:  # noqa: BLE001 - the steps wait safely in the database
                log.warning("reconciling payment steps failed, backing off", extra={"error": repr(exc)})
                await backoff.wait(stop)
                continue
            if not settled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)

    return run
