"""An idempotent Kafka producer usable from asyncio.

It wraps the plain ``confluent_kafka.Producer``: ``produce`` never blocks, and a thread polls
delivery reports and resolves asyncio futures. The asyncio producer of confluent-kafka is not
used because some releases drop message headers (docs/architecture.md, "Known traps"), and headers carry the
CloudEvents attributes and the trace context.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from mesh.messaging.events import Headers
from mesh.settings.common import KafkaSettings

# Refusals of one message that no retry can change: the message itself is wrong for the
# broker (too large, corrupt, rejected record) or names a topic that does not exist (topics are
# created at start by ensure_topics with auto-create off, and librdkafka already waits
# topic.metadata.propagation.max.ms for a new topic to show up before it reports one unknown).
# Everything else (timeouts, brokers down, leader changes, a full local queue) is transient.
PERMANENT_ERRORS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.INVALID_RECORD,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError._BAD_MSG,
        KafkaError._INVALID_ARG,
    }
)


def is_permanent(error: KafkaError) -> bool:
    """True when the broker (or the client, before sending) refuses this one message for good."""
    return error.code() in PERMANENT_ERRORS


class DeliveryError(Exception):
    """The broker did not take a message.

    ``permanent``: this message can never be delivered as it is (see ``PERMANENT_ERRORS``);
    ``retriable``: trying again may help (the opposite, kept for existing callers).
    """

    def __init__(self, error: KafkaError) -> None:
        super().__init__(error.str())
        self.error = error
        self.code = error.code()
        self.permanent = is_permanent(error)
        self.retriable = not self.permanent


class KafkaProducer:
    """Start with ``start()``, stop with ``stop()`` (which flushes); or ``async with``."""

    def __init__(self, settings: KafkaSettings, *, client_id: str, extra_config: dict[str, Any] | None = None) -> None:
        self._config: dict[str, Any] = {
            **settings.client_config(),
            "client.id": client_id,
            # Idempotence gives exactly one copy per produce call, in order, per partition.
            "enable.idempotence": True,
            "acks": "all",
            # Send at once: every saga hop waits on this. Under load messages still batch while
            # earlier requests are in flight, and the relay hands over a whole batch at a time.
            "linger.ms": 0,
            "compression.type": "lz4",
            "message.timeout.ms": 30000,
        }
        self._config.update(extra_config or {})
        self._producer: Producer | None = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()

    async def start(self) -> None:
        if self._producer is not None:
            return
        self._producer = Producer(self._config)
        self._stopping.clear()
        self._poller = threading.Thread(target=self._poll_forever, name="kafka-delivery", daemon=True)
        self._poller.start()

    async def stop(self, *, flush_timeout_s: float = 10.0) -> int:
        """Flushes what is queued and stops; returns the number of messages left undelivered."""
        if self._producer is None:
            return 0
        producer, self._producer = self._producer, None
        left = await asyncio.to_thread(producer.flush, flush_timeout_s)
        self._stopping.set()
        if self._poller is not None:
            await asyncio.to_thread(self._poller.join, 5)
        return int(left)

    async def __aenter__(self) -> KafkaProducer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def produce(self, topic: str, *, key: str, value: bytes, headers: Headers) -> asyncio.Future[Message]:
        """Queues one message; the returned future resolves once the broker acknowledged it.

        Every refusal of the message, also one the client makes at once (a message larger than
        ``message.max.bytes`` is refused by ``produce`` itself), fails the future with a
        ``DeliveryError``: callers see one kind of failure, whenever it happens.
        """
        if self._producer is None:
            raise RuntimeError("producer is not started")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Message] = loop.create_future()

        def on_delivery(error: KafkaError | None, message: Message) -> None:
            loop.call_soon_threadsafe(_settle, future, error, message)

        while True:
            try:
                self._producer.produce(topic, key=key.encode(), value=value, headers=headers, on_delivery=on_delivery)
                return future
            except KafkaException as exc:
                future.set_exception(DeliveryError(exc.args[0]))
                return future
            except BufferError:
                # Local queue full: let the poller drain delivery reports, then queue again.
                self._producer.poll(0.05)

    async def send(self, topic: str, *, key: str, value: bytes, headers: Headers) -> Message:
        return await self.produce(topic, key=key, value=value, headers=headers)

    def _poll_forever(self) -> None:
        while not self._stopping.is_set():
            producer = self._producer
            if producer is None:
                return
            producer.poll(0.05)


def _settle(future: asyncio.Future[Message], error: KafkaError | None, message: Message) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(DeliveryError(error))
    else:
        future.set_result(message)
