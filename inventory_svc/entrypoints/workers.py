"""The process's long-running loops, as mesh.serving.server Workers: the outbox relay and the
order-event consumer. Both need the producer running (dead letters go out through it too);
``start`` is idempotent, so it does not matter that the process starts it as well."""

from __future__ import annotations

import asyncio

from mesh.messaging.kafka import EventConsumer, KafkaProducer
from mesh.messaging.relay import OutboxRelay
from mesh.serving.server import Worker


def outbox_relay(relay: OutboxRelay, producer: KafkaProducer) -> Worker:
    async def run(stop: asyncio.Event) -> None:
        await producer.start()
        await relay.run(stop)

    return run


def order_events(consumer: EventConsumer, producer: KafkaProducer) -> Worker:
    async def run(stop: asyncio.Event) -> None:
        await producer.start()
        await consumer.run(stop)

    return run
