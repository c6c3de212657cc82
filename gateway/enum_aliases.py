"""Enum values by their short names: ``PAID`` for ``ORDER_STATUS_PAID``.

Every enum value of the contracts starts with its enum type's name in UPPER_SNAKE_CASE (buf's
``ENUM_VALUE_PREFIX`` rule), so the rest of the name is unambiguous within the enum. Clients
written against the seed documents send the short word (``{"status": "PAID"}``); the gateway
accepts it for every enum, in bodies and in query parameters, and answers with the full name.
Case is kept: ``paid`` is still refused, as it would be by any proto3 JSON parser.
"""

from __future__ import annotations

import re
from typing import Any

from google.protobuf import descriptor

_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def enum_prefix(enum: descriptor.EnumDescriptor) -> str:
    """``OrderStatus`` → ``ORDER_STATUS_``."""
    return _WORD_START.sub("_", enum.name).upper() + "_"


def enum_value_named(enum: descriptor.EnumDescriptor, text: str) -> descriptor.EnumValueDescriptor | None:
    """The value called ``text``, or called ``text`` once the enum's prefix is put in front."""
    found = enum.values_by_name.get(text)
    if found is None and text:
        found = enum.values_by_name.get(enum_prefix(enum) + text)
    return found


def expand_enum_aliases(document: dict[str, Any], message: descriptor.Descriptor) -> None:
    """Rewrites, in place, short enum names anywhere in a request's JSON to the full names the
    protobuf JSON parser knows. Anything else (unknown keys, wrong types) is left for it to refuse."""
    for key, value in document.items():
        field = _field(message, key)
        if field is None or value is None:
            continue
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if isinstance(value, dict):
                for entry_key, entry in value.items():
                    value[entry_key] = _expanded(value_field, entry)
        elif field.is_repeated and isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = _expanded(field, item)
        else:
            document[key] = _expanded(field, value)


def _field(message: descriptor.Descriptor, key: str) -> descriptor.FieldDescriptor | None:
    found = message.fields_by_name.get(key)
    return found if found is not None else next((f for f in message.fields if f.json_name == key), None)


def _expanded(field: descriptor.FieldDescriptor, value: Any) -> Any:
    enum = field.enum_type
    if enum is not None and isinstance(value, str) and not enum.full_name.startswith("google.protobuf."):
        found = enum_value_named(enum, value)
        return found.name if found is not None else value
    nested = field.message_type
    if nested is not None and isinstance(value, dict) and not nested.full_name.startswith("google.protobuf."):
        expand_enum_aliases(value, nested)
    return value
