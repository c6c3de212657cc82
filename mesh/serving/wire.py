"""Small conversions every servicer and event mapper needs between Python and the wire."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2
from google.type import money_pb2

from mesh.values.money import MINOR_PER_UNIT, NANOS_PER_MINOR


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    """A ``google.protobuf.Timestamp`` of an aware datetime."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def optional_timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """None stays None, so an unset time stays an unset message field."""
    return None if value is None else timestamp(value)


def money(minor: int, currency: str) -> money_pb2.Money:
    """A ``google.type.Money`` of an amount in minor units (cents)."""
    units, rest = divmod(minor, MINOR_PER_UNIT)
    return money_pb2.Money(currency_code=currency, units=units, nanos=rest * NANOS_PER_MINOR)


def minor_units(value: money_pb2.Money) -> int:
    """Minor units of ``value``; raises ValueError when it has sub-cent precision or mixed signs."""
    if value.nanos % NANOS_PER_MINOR:
        raise ValueError("more precision than one cent")
    if (value.units > 0 and value.nanos < 0) or (value.units < 0 and value.nanos > 0):
        raise ValueError("units and nanos must have the same sign")
    return int(value.units * MINOR_PER_UNIT + value.nanos // NANOS_PER_MINOR)


def metadata_value(metadata: Iterable[tuple[str, Any]] | None, key: str) -> str | None:
    """The first value of ``key`` in gRPC invocation metadata (bytes decoded), or None."""
    for item_key, value in metadata or ():
        if item_key == key:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None
