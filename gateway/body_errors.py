"""What is wrong with a JSON body, said for a client: one path syntax and plain words.

``json_format``'s errors are written for Python programmers ("invalid literal for int() with
base 10: 'many'") and name nested fields without their list index (``items.quantity``). When it
refuses a body, the gateway walks the body against the request's descriptor itself and names
the first bad value the way BadRequest field violations do everywhere in the mesh (AIP-193:
proto field names, dots, ``[index]`` for list items, ``items[0].quantity``) with what the field
expects ("must be an integer", "must be one of ORDER_STATUS_PENDING, …").

The walk runs only on a body the parser refused (and, for enum numbers, on every body: the
parser keeps any integer an open enum is given).
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor, duration_pb2, timestamp_pb2

from gateway.fields import FD, INT_RANGES, WRAPPERS, describe_expected, find_field, integer_range
from mesh.serving.errors import SHOWN_CHARS

_ANY = "google.protobuf.Any"
_FREE_FORM = {"google.protobuf.Value", _ANY}


@dataclass(frozen=True)
class BodyProblem:
    path: str
    description: str  # "must be an integer", "unknown field", …

    @property
    def message(self) -> str:
        if self.description == "unknown field":
            return f"unknown field {self.path!r} in the body"
        return f"invalid value for field {self.path!r}: {self.description}"


def first_problem(document: dict[str, Any], message: descriptor.Descriptor) -> BodyProblem | None:
    """The first value of ``document`` that ``message`` cannot take, or None."""
    return _object(document, message, "")


def _name(key: str) -> str:
    return key if len(key) <= SHOWN_CHARS else key[:SHOWN_CHARS] + "…"


def _object(node: dict[str, Any], message: descriptor.Descriptor, prefix: str) -> BodyProblem | None:
    for key, value in node.items():
        field = find_field(message, key)
        if field is None:
            return BodyProblem(f"{prefix}{_name(key)}", "unknown field")
        problem = _field(field, value, f"{prefix}{field.name}")
        if problem is not None:
            return problem
    return None


def _field(field: descriptor.FieldDescriptor, value: Any, path: str) -> BodyProblem | None:
    if value is None:
        return None  # null is the field's default (and a Value's null)
    nested = field.message_type
    if nested is not None and nested.GetOptions().map_entry:
        if not isinstance(value, dict):
            return BodyProblem(path, "must be an object")
        value_field = nested.fields_by_name["value"]
        for key, item in value.items():
            problem = _single(value_field, item, f"{path}[{_name(str(key))!r}]")
            if problem is not None:
                return problem
        return None
    if field.is_repeated:
        if not isinstance(value, list):
            return BodyProblem(path, "must be an array")
        for index, item in enumerate(value):
            problem = _single(field, item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None
    return _single(field, value, path)


def _single(field: descriptor.FieldDescriptor, value: Any, path: str) -> BodyProblem | None:
    """One value (a list item, a map value or a singular field's value)."""
    nested = field.message_type
    if nested is None and field.type in INT_RANGES and _integer(value) is not None:
        ok = _scalar_ok(field, value)
        return None if ok else BodyProblem(path, integer_range(field))
    if nested is None:
        ok = _scalar_ok(field, value)
    elif value is None or nested.full_name in _FREE_FORM:
        ok = True  # any JSON (an Any's contents are checked by the parser against its @type)
    elif nested.full_name in WRAPPERS:
        ok = _scalar_ok(nested.fields_by_name["value"], value)
    elif nested.full_name in _FROM_STRING:
        ok = _parses(_FROM_STRING[nested.full_name](), value)
    elif nested.full_name == "google.protobuf.FieldMask":
        ok = isinstance(value, str)
    elif nested.full_name == "google.protobuf.ListValue":
        return None if isinstance(value, list) else BodyProblem(path, "must be an array")
    elif not isinstance(value, dict):
        return BodyProblem(path, "must be an object")
    elif nested.full_name == "google.protobuf.Struct":
        ok = True
    else:
        return _object(value, nested, f"{path}.")
    return None if ok else BodyProblem(path, describe_expected(field))


_FROM_STRING: dict[str, Any] = {
    "google.protobuf.Timestamp": timestamp_pb2.Timestamp,
    "google.protobuf.Duration": duration_pb2.Duration,
}


def _parses(holder: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        holder.FromJsonString(value)
    except ValueError:
        return False
    return True


def _scalar_ok(field: descriptor.FieldDescriptor, value: Any) -> bool:
    kind = field.type
    if kind == FD.TYPE_STRING:
        return isinstance(value, str)
    if kind == FD.TYPE_BOOL:
        return isinstance(value, bool)
    if kind == FD.TYPE_BYTES:
        return isinstance(value, str) and _is_base64(value)
    if kind == FD.TYPE_ENUM:
        return _enum_ok(field, value)
    if kind in INT_RANGES:
        number = _integer(value)
        low, high = INT_RANGES[kind]
        return number is not None and low <= number <= high
    if kind in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        if isinstance(value, str):
            return value in ("NaN", "Infinity", "-Infinity") or _float(value) is not None
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return True


def _enum_ok(field: descriptor.FieldDescriptor, value: Any) -> bool:
    enum = field.enum_type
    assert enum is not None
    if enum.full_name == "google.protobuf.NullValue":
        return value is None or value == "NULL_VALUE" or value == 0
    if isinstance(value, str):
        return value in enum.values_by_name
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value in enum.values_by_number


def enum_number_problem(document: dict[str, Any], message: descriptor.Descriptor) -> BodyProblem | None:
    """An enum given a number the contract does not define (the parser keeps any integer)."""
    for key, value in document.items():
        field = find_field(message, key)
        if field is None or value is None:
            continue
        path = field.name
        values = value if field.is_repeated and isinstance(value, list) else [value]
        nested = field.message_type
        for index, item in enumerate(values):
            where = f"{path}[{index}]" if field.is_repeated else path
            if field.enum_type is not None and field.enum_type.full_name != "google.protobuf.NullValue":
                if not _enum_ok(field, item):
                    return BodyProblem(where, describe_expected(field))
            elif (
                nested is not None
                and isinstance(item, dict)
                and not nested.GetOptions().map_entry
                and not nested.full_name.startswith("google.protobuf.")
            ):
                inner = enum_number_problem(item, nested)
                if inner is not None:
                    return BodyProblem(f"{where}.{inner.path}", inner.description)
    return None


def _integer(value: Any) -> int | None:
    """The integer a proto3 JSON integer field accepts: a number with no fraction, or its string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str) and value == value.strip() and len(value) <= 32:
        try:
            return int(value)
        except ValueError:
            number = _float(value)
            return int(number) if number is not None and math.isfinite(number) and number.is_integer() else None
    return None


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _is_base64(text: str) -> bool:
    try:
        padded = text + "=" * (-len(text) % 4)
        base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
