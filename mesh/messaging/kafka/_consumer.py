"""The event consumer loop: at-least-once delivery, applied once through each handler's inbox.

* An offset is stored only after the handler returned, i.e. after its database transaction
  (which records the event id in the inbox) committed; stored offsets are committed by the
  client in the background and synchronously on revoke and shutdown.
* Messages of one partition are handled in order; partitions of a batch run concurrently.
* A transient failure (database down) is retried with backoff, forever, without skipping.
* Anything else is retried ``max_attempts`` times, then the message goes to ``<topic>.dlq``
  with the error in its headers and the consumer moves on. Undecodable messages go at once.
* Unknown event types are skipped (forward compatibility).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from mesh.messaging.events import EventEnvelope, Headers, headers_dict
from mesh.messaging.kafka._producer import DeliveryError, KafkaProducer
from mesh.messaging.kafka._topics import Topics
from mesh.messaging.telemetry import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_FAILED,
    EVENTS_SKIPPED,
    order_id_of,
    process_span,
)
from mesh.resilience.retry import Backoff, is_transient
from mesh.settings.common import KafkaSettings

log = logging.getLogger(__name__)

EventHandler = Callable[[EventEnvelope], Awaitable[None]]
LAG_INTERVAL_S = 5.0


def partition_lags(consumer: Consumer) -> dict[tuple[str, int], int]:
    """Per assigned partition: the end of the log minus our position, from what the client knows.

    The high watermarks are the ones cached from the latest fetch responses, never a broker
    round trip: this runs between two batches, and a live query per partition (``cached=False``)
    stalled the loop for tens of ms every few seconds, which showed as the saga's p99. A
    partition with no fetch yet has no cached watermark and is left out until it has one.
    """
    lags: dict[tuple[str, int], int] = {}
    try:
        for position in consumer.position(consumer.assignment()):
            offsets = consumer.get_watermark_offsets(position, cached=True)
            if offsets is None or offsets[1] < 0:
                continue
            high = offsets[1]
            lag = high - position.offset if position.offset >= 0 else high
            lags[(position.topic, position.partition)] = max(lag, 0)
    except KafkaException as exc:
        log.debug("consumer lag not measured", extra={"error": str(exc)})
    return lags


class PoisonMessage(Exception):
    """The message cannot be handled, however often it is tried."""


class _Stopping(Exception):
    """Shutdown began while a message was being retried; it stays unacknowledged."""


@dataclass(frozen=True)
class ConsumerSpec:
    """What one consumer group reads and who handles which event type."""

    group_id: str
    topics: list[str]
    handlers: Mapping[type[ProtoMessage], EventHandler]
    max_attempts: int = 5
    batch_size: int = 500
    poll_timeout_s: float = 0.2
    extra_config: dict[str, Any] = field(default_factory=dict)


class EventConsumer:
    def __init__(self, settings: KafkaSettings, spec: ConsumerSpec, *, dlq_producer: KafkaProducer) -> None:
        self._settings = settings
        self._spec = spec
        self._dlq = dlq_producer
        self._types = {cls.DESCRIPTOR.full_name: (cls, handler) for cls, handler in spec.handlers.items()}
        self._consumer: Consumer | None = None
        self._next_lag_at = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        consumer = Consumer(
            {
                **self._settings.client_config(),
                "group.id": self._spec.group_id,
                "enable.auto.offset.store": False,
                "enable.auto.commit": True,
                "auto.commit.interval.ms": 200,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "session.timeout.ms": 10000,
                "max.poll.interval.ms": 300000,
                **self._spec.extra_config,
            }
        )
        self._consumer = consumer
        consumer.subscribe(self._spec.topics, on_revoke=self._on_revoke)
        try:
            while not stop.is_set():
                batch = await asyncio.to_thread(self._next_batch, consumer)
                if batch:
                    await self._handle_batch(batch, stop)
                if time.monotonic() >= self._next_lag_at:
                    self._next_lag_at = time.monotonic() + LAG_INTERVAL_S
                    await asyncio.to_thread(self._measure_lag, consumer)
        except _Stopping:
            pass
        finally:
            await asyncio.to_thread(self._close, consumer)

    def _next_batch(self, consumer: Consumer) -> list[Message]:
        """Whatever is already fetched, else the first message to arrive, plus what came with it.

        ``consume(n, timeout)`` waits until it has n messages or the timeout passed, which at
        low traffic would add the whole timeout to every hop of the saga.
        """
        size = self._spec.batch_size
        batch = consumer.consume(size, 0)
        if not batch:
            batch = consumer.consume(1, self._spec.poll_timeout_s)
            if batch:
                batch += consumer.consume(size - 1, 0)
        return batch

    def _measure_lag(self, consumer: Consumer) -> None:
        for (topic, partition), lag in partition_lags(consumer).items():
            CONSUMER_LAG.labels(self._spec.group_id, topic, str(partition)).set(lag)

    def _close(self, consumer: Consumer) -> None:
        self._commit_stored(consumer)
        consumer.close()

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Before another member takes these partitions, commit what we finished on them.
        self._commit_stored(consumer)

    @staticmethod
    def _commit_stored(consumer: Consumer) -> None:
        try:
            consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                log.warning("offset commit failed", extra={"error": str(exc)})

    async def _handle_batch(self, batch: list[Message], stop: asyncio.Event) -> None:
        by_partition: dict[tuple[str, int], list[Message]] = defaultdict(list)
        for message in batch:
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer error", extra={"error": error.str()})
                continue
            by_partition[(message.topic() or "", message.partition() or 0)].append(message)
        await asyncio.gather(*(self._handle_partition(msgs, stop) for msgs in by_partition.values()))

    async def _handle_partition(self, messages: list[Message], stop: asyncio.Event) -> None:
        for message in messages:
            if stop.is_set():
                return  # not stored: redelivered to whoever owns the partition next
            await self._handle_one(message, stop)
            assert self._consumer is not None
            self._consumer.store_offsets(message=message)

    async def _handle_one(self, message: Message, stop: asyncio.Event) -> None:
        headers = headers_dict(message.headers())
        event_type = headers.get("ce_type")
        if event_type is None:
            # Not a CloudEvent at all: garbage, not an event type from the future.
            await self._dead_letter(message, PoisonMessage("missing ce_type header"), attempts=1, stop=stop)
            return
        known = self._types.get(event_type)
        if known is None:
            EVENTS_SKIPPED.labels(self._spec.group_id, message.topic() or "").inc()
            return
        cls, handler = known
        try:
            envelope = _decode(message, headers, cls)
        except PoisonMessage as exc:
            await self._dead_letter(message, exc, attempts=1, stop=stop)
            return
        await self._handle_with_retries(message, envelope, handler, stop)

    async def _handle_with_retries(
        self, message: Message, envelope: EventEnvelope, handler: EventHandler, stop: asyncio.Event
    ) -> None:
        backoff = Backoff(initial_s=0.05, max_s=5.0)
        failures = 0
        group = self._spec.group_id
        while True:
            try:
                with process_span(group, envelope):
                    await handler(envelope)
                EVENTS_CONSUMED.labels(group, envelope.topic, envelope.event_type).inc()
                return
            except Exception as exc:  # every failure is either retried or dead-lettered
                EVENTS_FAILED.labels(group, envelope.topic).inc()
                if not is_transient(exc):
                    failures += 1
                    if failures >= self._spec.max_attempts:
                        await self._dead_letter(message, exc, attempts=failures, stop=stop)
                        return
                log.warning(
                    "event handling failed, retrying",
                    extra={
                        "event_id": envelope.event_id,
                        "event_type": envelope.event_type,
                        "order_id": order_id_of(envelope.message),
                        "error": repr(exc),
                    },
                )
                if stop.is_set():
                    raise _Stopping from exc
                await backoff.wait(stop)

    async def _dead_letter(
        self, message: Message, exc: BaseException, *, attempts: int, stop: asyncio.Event | None = None
    ) -> None:
        topic = message.topic() or ""
        original = message.headers() or []
        headers: Headers = list(original.items()) if isinstance(original, dict) else [(k, v) for k, v in original]
        headers += [
            ("dlq_error", str(exc).encode()[:4000]),
            ("dlq_error_type", type(exc).__name__.encode()),
            ("dlq_original_topic", topic.encode()),
            ("dlq_original_partition", str(message.partition()).encode()),
            ("dlq_original_offset", str(message.offset()).encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_consumer_group", self._spec.group_id.encode()),
        ]
        key = (message.key() or b"").decode("utf-8", "replace")
        value = message.value() or b""
        backoff = Backoff(initial_s=0.2, max_s=5.0)
        while True:
            try:
                await self._dlq.send(Topics.dead_letter(topic), key=key, value=value, headers=headers)
                break
            except DeliveryError as refused:
                if refused.permanent and value:
                    # The dead letter itself is refused for good (a message close to the size
                    # limit plus the error headers): a consumer that died here would be restarted
                    # onto the same message for ever. Keep what says where the original is.
                    dropped = f"{len(value)} bytes of value and the original headers: {refused}"
                    keep = [(k, v) for k, v in headers[: len(original)] if k.startswith("ce_") and len(v or b"") <= 200]
                    headers = [*keep, *headers[len(original) :], ("dlq_dropped", dropped.encode()[:1000])]
                    key, value = key[:1000], b""
                    continue
                if refused.permanent or stop is None:
                    raise
                # Brokers away: the message stays unacknowledged until its dead letter is written.
                log.warning("dead letter not delivered, retrying", extra={"topic": topic, "error": str(refused)})
                if stop.is_set():
                    raise _Stopping from refused
                await backoff.wait(stop)
        EVENTS_DEAD_LETTERED.labels(self._spec.group_id, topic).inc()
        log.error("event dead-lettered", extra={"topic": topic, "offset": message.offset(), "error": str(exc)})


def _decode(message: Message, headers: dict[str, str], cls: type[ProtoMessage]) -> EventEnvelope:
    event_id = headers.get("ce_id", "")
    if not event_id:
        raise PoisonMessage("missing ce_id header")
    try:
        decoded = cls.FromString(message.value() or b"")
    except DecodeError as exc:
        raise PoisonMessage(f"cannot decode {cls.DESCRIPTOR.full_name}: {exc}") from exc
    return EventEnvelope(
        event_id=event_id,
        event_type=headers["ce_type"],
        source=headers.get("ce_source", ""),
        key=(message.key() or b"").decode("utf-8", "replace"),
        message=decoded,
        topic=message.topic() or "",
        partition=message.partition() or 0,
        offset=message.offset() or 0,
        headers=headers,
    )
