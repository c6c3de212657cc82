"""The declared bounds of request fields, read from the contracts, and what they add up to.

A field's bounds are its ``(oms.options.v1.bounds)`` option. Messages the mesh does not own
(``google.type.Money``, ``google.protobuf.FieldMask``) cannot carry our option, so their bounds
are declared here, once, in ``FOREIGN``. The request checker, the gateway's OpenAPI document,
the docs table and the receive limits all read ``bounds_of``.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator

from google.api import field_behavior_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor

from oms.options.v1 import options_pb2
from oms.options.v1.options_pb2 import Bounds

# The largest request a gRPC server reads off the wire (and the gateway sends). The largest
# legitimate request the bounds allow (CheckStock's 500 ids of 128 characters, at 4 bytes a
# character: about 252 KiB) fits with room to spare; tests/unit/mesh/test_receive_limits.py
# recomputes it from the contracts.
MAX_REQUEST_BYTES = 512 * 1024
# Prices are the only money in requests; the catalog refuses more than this many units.
MAX_MONEY_UNITS = 10**15

FOREIGN: dict[str, Bounds] = {
    "google.type.Money.currency_code": Bounds(max_len=3),
    "google.type.Money.units": Bounds(has_range=True, min=-MAX_MONEY_UNITS, max=MAX_MONEY_UNITS),
    "google.type.Money.nanos": Bounds(has_range=True, min=-999_999_999, max=999_999_999),
    "google.protobuf.FieldMask.paths": Bounds(max_items=16, max_len=128),
}

_STRINGS = (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES)
_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED32,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
# Encoded size of one value of the fixed-width and varint kinds, at worst.
_FIXED_SIZE = {
    FieldDescriptor.TYPE_FIXED32: 4,
    FieldDescriptor.TYPE_SFIXED32: 4,
    FieldDescriptor.TYPE_FLOAT: 4,
    FieldDescriptor.TYPE_FIXED64: 8,
    FieldDescriptor.TYPE_SFIXED64: 8,
    FieldDescriptor.TYPE_DOUBLE: 8,
    FieldDescriptor.TYPE_BOOL: 1,
}
# A varint carries 7 bits a byte; a negative int32/int64/enum is sign-extended to 10 bytes.
_VARINT_MAX = 10
# Worst UTF-8 bytes per character (max_len counts characters).
BYTES_PER_CHAR = 4

BoundsOf = Callable[[FieldDescriptor], "Bounds | None"]


def rpc_methods(package: str = "oms") -> Iterator[MethodDescriptor]:
    """Every RPC of every service generated under ``package`` (imports its ``_pb2`` modules)."""
    root = importlib.import_module(package)
    for info in sorted(pkgutil.walk_packages(root.__path__, prefix=f"{package}."), key=lambda i: i.name):
        if info.name.endswith("_pb2"):
            module = importlib.import_module(info.name)
            for service in module.DESCRIPTOR.services_by_name.values():
                yield from service.methods


def bounds_of(field: FieldDescriptor) -> Bounds | None:
    """The field's declared bounds, or None when it declares none."""
    options = field.GetOptions()
    if options.HasExtension(options_pb2.bounds):
        return options.Extensions[options_pb2.bounds]
    return FOREIGN.get(field.full_name)


def is_output_only(field: FieldDescriptor) -> bool:
    """Set by the server only: a request's value is ignored, so it needs no bound."""
    return field_behavior_pb2.OUTPUT_ONLY in field.GetOptions().Extensions[field_behavior_pb2.field_behavior]


def needs_bounds(field: FieldDescriptor) -> bool:
    """Strings, bytes, repeated fields and integers of a request must declare bounds."""
    if is_output_only(field):
        return False
    return field.is_repeated or field.type in _STRINGS or field.type in _INTEGERS


def is_integer(field: FieldDescriptor) -> bool:
    return field.type in _INTEGERS


class Unbounded(ValueError):
    """A field has no bound, so the message has no largest size."""


def largest_encoding(message: Descriptor, bounds: BoundsOf = bounds_of, *, skip_output_only: bool = True) -> int:
    """The most bytes a message within its bounds can take on the wire (unknown fields aside).

    Raises ``Unbounded`` naming a string, bytes or repeated field without a maximum.
    """
    return _message_size(message, bounds, skip_output_only, ())


def _message_size(message: Descriptor, bounds: BoundsOf, skip_output_only: bool, seen: tuple[str, ...]) -> int:
    if message.full_name in seen:
        raise Unbounded(f"{message.full_name} contains itself")
    total = 0
    for field in message.fields:
        if skip_output_only and is_output_only(field):
            continue
        declared = bounds(field)
        count = 1
        if field.is_repeated:
            if declared is None or not declared.max_items:
                raise Unbounded(f"{field.full_name} has no max_items")
            count = declared.max_items
        tag = _varint_size(field.number << 3)
        total += count * (tag + _value_size(field, declared, bounds, skip_output_only, (*seen, message.full_name)))
    return total


def _value_size(
    field: FieldDescriptor, declared: Bounds | None, bounds: BoundsOf, skip_output_only: bool, seen: tuple[str, ...]
) -> int:
    if field.message_type is not None:
        inner = _message_size(field.message_type, bounds, skip_output_only, seen)
        return _varint_size(inner) + inner
    if field.type in _STRINGS:
        if declared is None or not declared.max_len:
            raise Unbounded(f"{field.full_name} has no max_len")
        size = declared.max_len * (BYTES_PER_CHAR if field.type == FieldDescriptor.TYPE_STRING else 1)
        return _varint_size(size) + size
    return _FIXED_SIZE.get(field.type, _VARINT_MAX)


def _varint_size(value: int) -> int:
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size
