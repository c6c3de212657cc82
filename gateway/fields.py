"""Setting protobuf fields from URL text (path variables and query parameters).

Follows grpc-gateway's query-parameter rules: dotted paths into nested messages, proto or
lowerCamel JSON names, repeated fields from repeated keys, enums by name (or short name, see
``gateway.enum_aliases``) or number, and the string forms of Timestamp, Duration, FieldMask and
the wrapper types.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from google.protobuf import descriptor
from google.protobuf.message import Message

from gateway.enum_aliases import enum_value_named
from gateway.errors import bad_request
from mesh.serving.errors import SHOWN_CHARS, shown

FD = descriptor.FieldDescriptor
_INT32, _INT64, _UINT32, _UINT64 = (-(2**31), 2**31 - 1), (-(2**63), 2**63 - 1), (0, 2**32 - 1), (0, 2**64 - 1)
INT_RANGES = {
    FD.TYPE_INT32: _INT32, FD.TYPE_SINT32: _INT32, FD.TYPE_SFIXED32: _INT32,
    FD.TYPE_INT64: _INT64, FD.TYPE_SINT64: _INT64, FD.TYPE_SFIXED64: _INT64,
    FD.TYPE_UINT32: _UINT32, FD.TYPE_FIXED32: _UINT32, FD.TYPE_UINT64: _UINT64, FD.TYPE_FIXED64: _UINT64,
}  # fmt: skip
_INTS = set(INT_RANGES)
# An enum's names in an error: at most this many, then how many more.
ENUM_NAMES_SHOWN = 4
_FLOATS = {FD.TYPE_FLOAT, FD.TYPE_DOUBLE}
_TRUE = {"true", "t", "1"}
_FALSE = {"false", "f", "0"}
_STRING_FORM_WKT = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
WRAPPERS = {
    f"google.protobuf.{name}Value"
    for name in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}


def enum_choices(enum: descriptor.EnumDescriptor) -> str:
    """``A, B, C, D or 5 more``: a client is told the spelling, not the whole contract."""
    names = [v.name for v in enum.values]
    if len(names) <= ENUM_NAMES_SHOWN:
        return ", ".join(names[:-1]) + (" or " if len(names) > 1 else "") + names[-1]
    return ", ".join(names[:ENUM_NAMES_SHOWN]) + f" or {len(names) - ENUM_NAMES_SHOWN} more"


def describe_expected(field: descriptor.FieldDescriptor) -> str:
    """What one value of ``field`` must be, in a client's words (a 400's field description)."""
    nested = field.message_type
    if nested is not None:
        name = nested.full_name
        if name in WRAPPERS:
            return describe_expected(nested.fields_by_name["value"]) + " or null"
        return _WKT_EXPECTED.get(name, "must be an object")
    kind = field.type
    if kind == FD.TYPE_ENUM:
        assert field.enum_type is not None
        return f"must be one of {enum_choices(field.enum_type)}"
    if kind in INT_RANGES:
        return "must be an integer"
    return _SCALAR_EXPECTED.get(kind, "has the wrong type")


def integer_range(field: descriptor.FieldDescriptor) -> str:
    """For an integer the field's type cannot hold."""
    low, high = INT_RANGES[field.type]
    return f"must be an integer from {low} to {high}"


_WKT_EXPECTED = {
    "google.protobuf.Timestamp": "must be an RFC 3339 timestamp, e.g. 2026-01-31T12:00:00Z",
    "google.protobuf.Duration": 'must be a duration in seconds, e.g. "1.5s"',
    "google.protobuf.FieldMask": "must be a comma-separated list of field paths",
}
_SCALAR_EXPECTED = {
    FD.TYPE_STRING: "must be a string",
    FD.TYPE_BOOL: "must be true or false",
    FD.TYPE_BYTES: "must be base64",
    FD.TYPE_FLOAT: "must be a number",
    FD.TYPE_DOUBLE: "must be a number",
}


def find_field(message_descriptor: descriptor.Descriptor, name: str) -> descriptor.FieldDescriptor | None:
    """A field by its proto name or its lowerCamel JSON name."""
    found = message_descriptor.fields_by_name.get(name)
    if found is not None:
        return found
    return next((f for f in message_descriptor.fields if f.json_name == name), None)


def resolve(message_descriptor: descriptor.Descriptor, dotted: str) -> list[descriptor.FieldDescriptor]:
    """``product.product_id`` → the chain of field descriptors, or a 400 naming the path."""
    chain: list[descriptor.FieldDescriptor] = []
    current: descriptor.Descriptor | None = message_descriptor
    for part in dotted.split("."):
        found = find_field(current, part) if current is not None else None
        if found is None:
            raise bad_request(f"{message_descriptor.name} has no field {shown(dotted)}", _cut(dotted), "unknown field")
        if chain and (chain[-1].is_repeated):
            raise bad_request(f"{shown(dotted)} goes through a repeated field", dotted, "not addressable in a URL")
        chain.append(found)
        current = found.message_type
    return chain


def proto_path(chain: Sequence[descriptor.FieldDescriptor]) -> str:
    return ".".join(f.name for f in chain)


def set_from_strings(message: Message, chain: Sequence[descriptor.FieldDescriptor], values: Sequence[str]) -> None:
    """Sets the field at the end of ``chain`` (creating parents) from one or more texts."""
    target = message
    for parent in chain[:-1]:
        target = getattr(target, parent.name)
    leaf = chain[-1]
    path = proto_path(chain)
    repeated = leaf.is_repeated
    if leaf.message_type is not None and leaf.message_type.GetOptions().map_entry:
        raise bad_request(f"map field {path!r} cannot be set from the URL", path, "not addressable in a URL")
    if not repeated and len(values) > 1:
        raise bad_request(f"{path!r} given more than once", path, "expects a single value")
    try:
        if leaf.type == FD.TYPE_MESSAGE:
            for value in values:
                holder = getattr(target, leaf.name).add() if repeated else getattr(target, leaf.name)
                _set_message_from_text(holder, value, path)
        elif repeated:
            getattr(target, leaf.name).extend(convert_scalar(leaf, v, path) for v in values)
        else:
            setattr(target, leaf.name, convert_scalar(leaf, values[0], path))
    except (ValueError, TypeError):
        # The converters' texts name Python's view of the value; the client is told the type.
        expected = describe_expected(leaf)
        if leaf.type in INT_RANGES and all(v.lstrip("+-").isdigit() for v in values):
            expected = integer_range(leaf)
        raise bad_request(f"invalid value for {path!r}: {expected}", path, expected) from None


def _cut(name: str) -> str:
    """A parameter name as a violation's field: unknown names come from the caller, unbounded."""
    return name if len(name) <= SHOWN_CHARS else name[:SHOWN_CHARS] + "…"


def _set_message_from_text(holder: Message, text: str, path: str) -> None:
    name = holder.DESCRIPTOR.full_name
    if name in _STRING_FORM_WKT:
        holder.FromJsonString(text)  # type: ignore[attr-defined]
    elif name in WRAPPERS:
        inner: Any = holder.DESCRIPTOR.fields_by_name["value"]
        setattr(holder, "value", convert_scalar(inner, text, path))  # noqa: B010 (wrappers are untyped here)  # type: ignore[attr-defined]
    else:
        raise bad_request(f"message field {path!r} cannot be set from the URL", path, "not addressable in a URL")


def convert_scalar(field: descriptor.FieldDescriptor, text: str, path: str) -> Any:
    kind = field.type
    if kind == FD.TYPE_STRING:
        return text
    if kind == FD.TYPE_BOOL:
        lowered = text.lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ValueError(f"{shown(text)} is not a boolean")
    if kind in _INTS:
        return _integer(text)
    if kind in _FLOATS:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{shown(text)} is not a number") from None
    if kind == FD.TYPE_ENUM:
        return _enum_number(field, text, path)
    if kind == FD.TYPE_BYTES:
        try:
            padded = text + "=" * (-len(text) % 4)
            return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        except (binascii.Error, ValueError):
            raise ValueError(f"{shown(text)} is not base64") from None
    raise ValueError(f"unsupported field type {kind}")


def _enum_number(field: descriptor.FieldDescriptor, text: str, path: str) -> int:
    enum = field.enum_type
    assert enum is not None
    value = enum_value_named(enum, text)
    if value is not None:
        return int(value.number)
    # A number the contract does not define: proto3 enums are open on the wire, but a client
    # naming one asks for nothing, so it is refused, not silently ignored.
    if text.lstrip("-").isdigit() and len(text) <= 11 and enum.values_by_number.get(int(text)) is not None:
        return int(text)
    expected = describe_expected(field)
    raise bad_request(f"invalid value for {path!r}: {expected}", path, expected)


def _integer(text: str) -> int:
    """Decimal digits only, at most 20 of them (int() of a huge text is slow and out of range)."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit() or len(digits) > 20:
        raise ValueError(f"{shown(text)} is not an integer")
    return int(text, 10)
