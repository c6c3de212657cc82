"""Reading dead letters back, and replaying them onto the topics they came from.

Dead letters are read with a short-lived consumer that assigns partitions explicitly and never
commits: it joins no group, so the services' own consumer groups are not disturbed and an
operator reading a DLQ moves nothing. A replay publishes the dead letter's value, key and
original headers (CloudEvents id included) on its original topic, with ``oms_replayed_from``
naming where it came from: the consumer that failed on it handles it again, and one that
already applied it (same event id) finds it in its inbox and skips it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition
from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage

from mesh.messaging.events import Headers, headers_dict
from mesh.messaging.kafka import DeliveryError, KafkaProducer, Topics
from mesh.settings.common import KafkaSettings

DLQ_HEADER_PREFIX = "dlq_"
REPLAYED_FROM = "oms_replayed_from"
REPLAYED_AT = "oms_replayed_at"
# One read of a page or of a few dead letters; a DLQ is small, a broker that does not answer
# within this is down (the caller gets UNAVAILABLE rather than a hung RPC).
READ_TIMEOUT_S = 10.0
# A page stops before it holds more than this many bytes of dead letters (at least one is always
# returned), so a page of large events still fits a client's default 4 MiB receive limit.
PAGE_BYTES = 2 * 1024 * 1024
# A filtered listing reads at most this many dead letters per page it returns, so a filter
# that matches nothing cannot make one call read a whole large topic.
SCAN_FACTOR = 20


class DeadLetterUnavailable(Exception):
    """The broker could not be read in time."""


@dataclass(frozen=True)
class Ref:
    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True)
class DeadLetterRecord:
    """One dead letter as read from Kafka, decoded where its type is known."""

    ref: Ref
    key: str
    value: bytes
    headers: dict[str, str]
    raw_headers: Headers
    timestamp: datetime | None
    event: ProtoMessage | None
    decode_error: str

    @property
    def size(self) -> int:
        """About what the record costs in a response: its value and its headers."""
        return len(self.value) + sum(len(k) + len(v) for k, v in self.headers.items())

    @property
    def original_topic(self) -> str:
        return self.headers.get("dlq_original_topic", "")

    def header_int(self, name: str) -> int:
        try:
            return int(self.headers.get(name, "") or 0)
        except ValueError:
            return 0


@dataclass
class Page:
    records: list[DeadLetterRecord]
    # Next offset to read per (topic, partition); None when every partition was read to its end.
    next_positions: dict[tuple[str, int], int] | None


@dataclass(frozen=True)
class ReplayOutcome:
    ref: Ref
    replayed: bool
    original_topic: str = ""
    event_id: str = ""
    error: str = ""


@dataclass
class EventTypes:
    """ce_type → message class: the consumer's own handlers first, then every loaded message."""

    known: dict[str, type[ProtoMessage]] = field(default_factory=dict)

    @classmethod
    def of(cls, classes: Iterable[type[ProtoMessage]]) -> EventTypes:
        return cls({c.DESCRIPTOR.full_name: c for c in classes})

    def find(self, event_type: str) -> type[ProtoMessage] | None:
        found = self.known.get(event_type)
        if found is not None:
            return found
        try:
            return message_factory.GetMessageClass(descriptor_pool.Default().FindMessageTypeByName(event_type))
        except (KeyError, TypeError):
            return None


def dead_letter_topics(consumed: Iterable[str]) -> list[str]:
    """The DLQ topics a consumer group owns: the ``.dlq`` of every topic it reads."""
    return sorted({Topics.dead_letter(topic) for topic in consumed})


class DeadLetters:
    """The dead letters of one service: read (a page, one) and replayed."""

    def __init__(
        self,
        settings: KafkaSettings,
        consumed_topics: Sequence[str],
        types: EventTypes,
        producer: KafkaProducer,
        *,
        consumer_group: str = "",
    ) -> None:
        self._settings = settings
        # Several groups read one topic (inventory and notify both read orders) and so share its
        # DLQ: each service sees only what its own group dead-lettered. Empty: every group's.
        self._group = consumer_group
        self.topics = dead_letter_topics(consumed_topics)
        self._originals = {Topics.dead_letter(topic): topic for topic in consumed_topics}
        self._types = types
        self._producer = producer

    def owns(self, topic: str) -> bool:
        return topic in self._originals

    # -- reading (blocking: callers run these in a thread) --------------------------------------

    def read_page(self, positions: dict[tuple[str, int], int], limit: int, *, original_topic: str = "") -> Page:
        deadline = time.monotonic() + READ_TIMEOUT_S
        with _reader(self._settings) as consumer:
            bounds = self._bounds(consumer, deadline)
            start = {tp: max(positions.get(tp, low), low) for tp, (low, _high) in bounds.items()}
            records: list[DeadLetterRecord] = []
            scan_budget = limit * SCAN_FACTOR
            size = 0
            full = False
            for tp in sorted(bounds):
                high = bounds[tp][1]
                while not full and start[tp] < high and len(records) < limit and scan_budget > 0:
                    batch = _read_from(consumer, Ref(tp[0], tp[1], start[tp]), high, limit - len(records), deadline)
                    if not batch:
                        break
                    for message in batch:
                        record = self._record(message)
                        wanted = self._mine(record) and original_topic in ("", record.original_topic)
                        if wanted and records and size + record.size > PAGE_BYTES:
                            full = True  # the rest goes on the next page, from this message
                            break
                        scan_budget -= 1
                        start[tp] = (message.offset() or 0) + 1
                        if wanted:
                            records.append(record)
                            size += record.size
        more = any(start[tp] < high for tp, (_low, high) in bounds.items())
        return Page(records, start if more else None)

    def read(self, refs: Sequence[Ref]) -> dict[Ref, DeadLetterRecord]:
        """The dead letters at ``refs`` that exist (absent from the answer when they do not)."""
        deadline = time.monotonic() + READ_TIMEOUT_S
        found: dict[Ref, DeadLetterRecord] = {}
        wanted = [ref for ref in refs if self.owns(ref.topic)]
        if not wanted:
            return found
        with _reader(self._settings) as consumer:
            bounds = self._bounds(consumer, deadline)
            for ref in wanted:
                low, high = bounds.get((ref.topic, ref.partition), (0, 0))
                if not low <= ref.offset < high:
                    continue
                batch = _read_from(consumer, ref, ref.offset + 1, 1, deadline)
                if batch and batch[0].offset() == ref.offset:
                    record = self._record(batch[0])
                    if self._mine(record):
                        found[ref] = record
        return found

    def _mine(self, record: DeadLetterRecord) -> bool:
        return not self._group or record.headers.get("dlq_consumer_group") == self._group

    def _bounds(self, consumer: Consumer, deadline: float) -> dict[tuple[str, int], tuple[int, int]]:
        """(low, high) watermarks of every partition of our DLQ topics."""
        bounds: dict[tuple[str, int], tuple[int, int]] = {}
        try:
            metadata = consumer.list_topics(timeout=_left(deadline))
            for topic in self.topics:
                info = metadata.topics.get(topic)
                if info is None or info.error is not None:
                    continue  # never created: nothing was dead-lettered there
                for partition in info.partitions:
                    low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=_left(deadline), cached=False
                    )
                    bounds[(topic, partition)] = (low, high)
        except KafkaException as exc:
            raise DeadLetterUnavailable(str(exc)) from exc
        return bounds

    def _record(self, message: Message) -> DeadLetterRecord:
        raw = message.headers() or []
        pairs: Headers = list(raw.items()) if isinstance(raw, dict) else list(raw)
        headers = headers_dict(pairs)
        value = message.value() or b""
        event: ProtoMessage | None = None
        decode_error = ""
        event_type = headers.get("ce_type", "")
        cls = self._types.find(event_type) if event_type else None
        if cls is None:
            decode_error = f"unknown event type {event_type[:200]!r}" if event_type else "no ce_type header"
        else:
            try:
                event = cls.FromString(value)
            except DecodeError as exc:
                decode_error = f"does not decode as {event_type}: {str(exc)[:200]}"
        _kind, millis = message.timestamp()
        return DeadLetterRecord(
            ref=Ref(message.topic() or "", message.partition() or 0, message.offset() or 0),
            key=(message.key() or b"").decode("utf-8", "replace"),
            value=value,
            headers=headers,
            raw_headers=pairs,
            timestamp=datetime.fromtimestamp(millis / 1000, UTC) if millis > 0 else None,
            event=event,
            decode_error=decode_error,
        )

    # -- replay -------------------------------------------------------------------------------

    async def replay(self, records: dict[Ref, DeadLetterRecord], refs: Sequence[Ref]) -> list[ReplayOutcome]:
        """Publishes each found dead letter on its original topic; one outcome per ref, in order.

        All are queued at once and then awaited, so a hundred replays cost one round trip, not a
        hundred; one the broker does not take is reported as not replayed, with the error.
        """
        outcomes: list[ReplayOutcome | None] = []
        sending: dict[int, tuple[Ref, str, str, asyncio.Future[Message]]] = {}
        for ref in refs:
            record = records.get(ref)
            if not self.owns(ref.topic):
                outcomes.append(ReplayOutcome(ref, False, error="not a dead-letter topic of this service"))
                continue
            if record is None:
                outcomes.append(ReplayOutcome(ref, False, error="no dead letter at this position"))
                continue
            target = self._originals[ref.topic]
            event_id = record.headers.get("ce_id", "")
            if record.original_topic and record.original_topic != target:
                outcomes.append(ReplayOutcome(ref, False, event_id=event_id, error="original topic does not match"))
                continue
            future = self._producer.produce(target, key=record.key, value=record.value, headers=replay_headers(record))
            sending[len(outcomes)] = (ref, target, event_id, future)
            outcomes.append(None)
        for index, (ref, target, event_id, future) in sending.items():
            try:
                await future
                outcomes[index] = ReplayOutcome(ref, True, original_topic=target, event_id=event_id)
            except DeliveryError as exc:
                outcomes[index] = ReplayOutcome(ref, False, event_id=event_id, error=f"not published: {str(exc)[:200]}")
        return [outcome for outcome in outcomes if outcome is not None]


def replay_headers(record: DeadLetterRecord) -> Headers:
    """The original headers (CloudEvents, trace context) without the dead-letter ones, plus where
    the replay came from."""
    kept: Headers = [
        (name, value)
        for name, value in record.raw_headers
        if not name.startswith(DLQ_HEADER_PREFIX) and name not in (REPLAYED_FROM, REPLAYED_AT)
    ]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return [*kept, (REPLAYED_FROM, str(record.ref).encode()), (REPLAYED_AT, now.encode())]


class _reader:
    """A consumer of no group that only reads assigned partitions and never commits."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._consumer = Consumer(
            {
                **settings.client_config(),
                # Required by the client, never joined (assign() only, nothing committed).
                "group.id": f"oms-dead-letter-reader-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "enable.partition.eof": True,
                "auto.offset.reset": "earliest",
            }
        )

    def __enter__(self) -> Consumer:
        return self._consumer

    def __exit__(self, *exc: object) -> None:
        self._consumer.close()


def _read_from(consumer: Consumer, ref: Ref, high: int, limit: int, deadline: float) -> list[Message]:
    """Up to ``limit`` messages of one partition from ``ref.offset``, stopping before ``high``."""
    consumer.assign([TopicPartition(ref.topic, ref.partition, ref.offset)])
    messages: list[Message] = []
    while len(messages) < limit:
        left = _left(deadline)
        if left <= 0:
            raise DeadLetterUnavailable(f"reading {ref.topic} timed out")
        batch = consumer.consume(min(limit - len(messages), 500), min(left, 1.0))
        for message in batch:
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    return messages
                raise DeadLetterUnavailable(error.str())
            if (message.offset() or 0) >= high:
                return messages
            messages.append(message)
            if (message.offset() or 0) >= high - 1:
                return messages
    return messages


def _left(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.0)
