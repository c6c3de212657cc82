"""Prints the input-bounds table of every RPC, from the descriptors themselves.

docs/input-bounds.md carries this output between markers (scripts/update-bounds-doc writes
it, tests/unit/mesh/test_bounds_doc.py keeps them equal), so the documented bounds cannot drift
from the ones enforced.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from mesh.serving.bounds import bounds_of, is_output_only, rpc_methods
from oms.options.v1.options_pb2 import Bounds

START = "<!-- bounds-table:start -->\n"
END = "<!-- bounds-table:end -->"


def markdown() -> str:
    lines = ["| RPC | field | bound |", "|---|---|---|"]
    for method in rpc_methods():
        rpc = f"`{method.containing_service.name}.{method.name}`"
        for path, text in _rows(method.input_type, "", ()):
            lines.append(f"| {rpc} | `{path}` | {text} |")
    return "\n".join(lines)


def _rows(message: Descriptor, prefix: str, seen: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if message.full_name in seen:
        return
    for field in message.fields:
        if is_output_only(field):
            continue
        path = prefix + field.name + ("[]" if field.is_repeated else "")
        text = describe(field, bounds_of(field))
        if text:
            yield path, text
        nested = field.message_type
        if nested is not None and not nested.GetOptions().map_entry:
            yield from _rows(nested, f"{path}.", (*seen, message.full_name))


def describe(field: FieldDescriptor, declared: Bounds | None) -> str:
    """The bounds of one field in words: ``1..128 characters; email``."""
    parts = []
    if declared is not None:
        if declared.max_items or declared.min_items:
            parts.append(_span(declared.min_items, declared.max_items, "entries"))
        if declared.max_len or declared.min_len:
            unit = "bytes" if field.type == FieldDescriptor.TYPE_BYTES else "characters"
            parts.append(_span(declared.min_len, declared.max_len, unit))
        if declared.has_range:
            parts.append(f"{declared.min}..{declared.max}")
        if declared.email:
            parts.append("an email address")
    if field.enum_type is not None:
        parts.append("a defined value")
    return "; ".join(parts)


def _span(low: int, high: int, unit: str) -> str:
    if low and high:
        return f"{low}..{high} {unit}"
    return f"at most {high} {unit}" if high else f"at least {low} {unit}"


if __name__ == "__main__":
    sys.stdout.write(markdown() + "\n")
