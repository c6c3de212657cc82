"""A consumed event as a CloudEvents 1.0 JSON document (structured mode), for webhooks.

The attributes are the ones the event carried on Kafka (``ce_id``, ``ce_type``, ``ce_source``,
``ce_time`` headers, docs/architecture.md "Events on Kafka"); ``data`` is the protobuf message
in its canonical JSON mapping (lowerCamelCase names, enums by name, int64 as strings).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from google.protobuf import json_format

from mesh.messaging.events import EventEnvelope

SPEC_VERSION = "1.0"
# The media type of a whole CloudEvent in JSON (the HTTP binding's structured mode).
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"


def cloud_event_json(envelope: EventEnvelope, *, subject: str, now: datetime | None = None) -> str:
    document = {
        "specversion": SPEC_VERSION,
        "id": envelope.event_id,
        "source": envelope.source,
        "type": envelope.event_type,
        # An event produced without ce_time (none of ours) gets the time it was consumed.
        "time": envelope.headers.get("ce_time") or _rfc3339(now or datetime.now(UTC)),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": json_format.MessageToDict(envelope.message),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
