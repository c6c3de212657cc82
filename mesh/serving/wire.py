"""Small conversions every servicer and event mapper needs between Python and the wire."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A ``google.protobuf.Timestamp`` of an aware datetime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def optional_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """None stays None, so an unset time stays an unset message field."""
    return None if value is None else timestamp(value)


def metadata_value(metadata: Iterable[tuple[str, Any]] | None, key: str) -> str | None:
    """The first value of ``key`` in gRPC invocation metadata (bytes decoded), or None."""
    for item_key, value in metadata or ():
        if item_key == key:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None
