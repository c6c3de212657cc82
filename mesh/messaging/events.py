"""Domain events on the wire: protobuf value plus CloudEvents Kafka binary-binding headers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import Message

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/protobuf"
TRACE_HEADERS = ("traceparent", "tracestate")

# Kafka message headers as confluent-kafka takes and gives them.
Headers = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class OutgoingEvent:
    """An event a service wants published, keyed by its aggregate id."""

    topic: str
    key: str
    message: Message
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def event_type(self) -> str:
        return self.message.DESCRIPTOR.full_name


@dataclass(frozen=True)
class EventEnvelope:
    """A consumed event, decoded, with where it came from."""

    event_id: str
    event_type: str
    source: str
    key: str
    message: Message
    topic: str
    partition: int
    offset: int
    headers: dict[str, str]


def cloudevent_headers(
    *, event_id: str, event_type: str, source: str, time: datetime, extra: dict[str, str] | None = None
) -> Headers:
    headers = {
        "ce_id": event_id,
        "ce_type": event_type,
        "ce_source": source,
        "ce_time": time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "ce_specversion": SPEC_VERSION,
        "content-type": CONTENT_TYPE,
    }
    headers.update(extra or {})
    return [(name, value.encode()) for name, value in headers.items()]


def headers_dict(raw: Headers | dict[str, str | bytes | None] | None) -> dict[str, str]:
    """Kafka headers as text; a repeated header keeps its last value."""
    pairs = raw.items() if isinstance(raw, dict) else (raw or [])
    return {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else (value or "") for name, value in pairs
    }
