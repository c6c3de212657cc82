"""Reading and writing raw Kafka messages in tests (to inspect topics and inject poison)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass

from confluent_kafka import Consumer, Producer

from mesh.messaging.events import headers_dict


@dataclass(frozen=True)
class RawMessage:
    key: str
    value: bytes
    headers: dict[str, str]


def _read(bootstrap: str, topic: str, at_least: int, timeout_s: float) -> list[RawMessage]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # The topic's marker in the group id: deleted with the topic (testkit.leftovers).
            "group.id": f"reader-{topic}-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[RawMessage] = []
    deadline = time.monotonic() + timeout_s
    idle_polls = 0
    try:
        while time.monotonic() < deadline:
            batch = consumer.consume(500, 0.5)
            useful = [m for m in batch if m.error() is None]
            for message in useful:
                found.append(
                    RawMessage((message.key() or b"").decode(), message.value() or b"", headers_dict(message.headers()))
                )
            idle_polls = 0 if useful else idle_polls + 1
            # Enough, and the topic has gone quiet: stop early instead of waiting out the deadline.
            if len(found) >= at_least and idle_polls >= 4:
                break
    finally:
        consumer.close()
    return found


async def read_topic(bootstrap: str, topic: str, *, at_least: int = 1, timeout_s: float = 30.0) -> list[RawMessage]:
    """Every message on ``topic`` from the beginning (waits for ``at_least`` of them)."""
    return await asyncio.to_thread(_read, bootstrap, topic, at_least, timeout_s)


def produce_raw(
    bootstrap: str, topic: str, *, key: str, value: bytes, headers: list[tuple[str, str | bytes | None]] | None = None
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, key=key.encode(), value=value, headers=headers or [])
    assert producer.flush(10) == 0, "the test message was not delivered"
