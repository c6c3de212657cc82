"""Checks every request gets before any handler sees it.

PostgreSQL text cannot hold U+0000; a NUL that reached a query would fail deep inside the
database call. It is refused at the edge instead, naming the field, for every RPC of every
service at once.
"""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from mesh.errors import FieldViolation

_STRING = FieldDescriptor.TYPE_STRING
_MESSAGE = FieldDescriptor.TYPE_MESSAGE
NUL = "\x00"


def nul_violations(message: Message, prefix: str = "") -> list[FieldViolation]:
    """One violation per string field (at any depth) that contains a NUL character."""
    found: list[FieldViolation] = []
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                entry = f"{path}[{key!r}]"
                if isinstance(key, str) and NUL in key:
                    found.append(FieldViolation(entry, "must not contain NUL (U+0000) characters"))
                found += _check_value(field.message_type.fields_by_name["value"], item, entry)
        elif field.is_repeated:
            for index, item in enumerate(value):
                found += _check_value(field, item, f"{path}[{index}]")
        else:
            found += _check_value(field, value, path)
    return found


def _check_value(field: FieldDescriptor, value: object, path: str) -> list[FieldViolation]:
    if field.type == _STRING and isinstance(value, str) and NUL in value:
        return [FieldViolation(path, "must not contain NUL (U+0000) characters")]
    if field.type == _MESSAGE and isinstance(value, Message):
        return nul_violations(value, prefix=f"{path}.")
    return []
