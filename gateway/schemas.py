"""OpenAPI 3.0 schemas for protobuf messages, following the proto3 JSON mapping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor

from mesh.serving.bounds import bounds_of, is_output_only

FD = descriptor.FieldDescriptor
Schema = dict[str, Any]

_SCALARS: Mapping[int, Schema] = {
    FD.TYPE_STRING: {"type": "string"},
    FD.TYPE_BYTES: {"type": "string", "format": "byte"},
    FD.TYPE_BOOL: {"type": "boolean"},
    FD.TYPE_FLOAT: {"type": "number", "format": "float"},
    FD.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FD.TYPE_INT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FD.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FD.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0},
    FD.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0},
    # proto3 JSON prints 64-bit integers as strings (JavaScript numbers lose precision).
    FD.TYPE_INT64: {"type": "string", "format": "int64"},
    FD.TYPE_SINT64: {"type": "string", "format": "int64"},
    FD.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FD.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FD.TYPE_FIXED64: {"type": "string", "format": "uint64"},
}

WELL_KNOWN: Mapping[str, Schema] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time", "example": "2024-01-31T12:00:00Z"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$", "example": "3.5s"},
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": "Comma-separated field paths (lowerCamel in JSON), e.g. `name,email`.",
    },
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string", "description": "Type URL of the packed message."}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    **{
        f"google.protobuf.{name}Value": {**_SCALARS[kind], "nullable": True}
        for name, kind in (
            ("Double", FD.TYPE_DOUBLE),
            ("Float", FD.TYPE_FLOAT),
            ("Int64", FD.TYPE_INT64),
            ("UInt64", FD.TYPE_UINT64),
            ("Int32", FD.TYPE_INT32),
            ("UInt32", FD.TYPE_UINT32),
            ("Bool", FD.TYPE_BOOL),
            ("String", FD.TYPE_STRING),
            ("Bytes", FD.TYPE_BYTES),
        )
    },
}

STATUS_SCHEMA: Schema = {
    "type": "object",
    "description": "google.rpc.Status: the error model of every failed call.",
    "properties": {
        "code": {"type": "integer", "format": "int32", "description": "google.rpc.Code (gRPC status code)."},
        "message": {"type": "string", "description": "Developer-facing error message."},
        "details": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/google.protobuf.Any"},
            "description": "Typed details: google.rpc.BadRequest, ErrorInfo, PreconditionFailure...",
        },
    },
}


def behaviors(field: descriptor.FieldDescriptor) -> set[int]:
    return set(field.GetOptions().Extensions[field_behavior_pb2.field_behavior])


def value_bounds(field: descriptor.FieldDescriptor) -> Schema:
    """The declared bounds of one value as OpenAPI keywords (``maxLength``, ``minimum``...)."""
    declared = None if is_output_only(field) else bounds_of(field)
    if declared is None:
        return {}
    schema: Schema = {}
    if field.type in (FD.TYPE_STRING, FD.TYPE_BYTES):
        if declared.max_len:
            # Bytes are base64 in JSON: four characters for every three bytes.
            schema["maxLength"] = declared.max_len if field.type == FD.TYPE_STRING else 4 * -(-declared.max_len // 3)
        if declared.min_len:
            schema["minLength"] = declared.min_len
        if declared.email:
            schema["format"] = "email"
    elif declared.has_range and _SCALARS.get(field.type, {}).get("type") == "integer":
        # 64-bit integers are JSON strings, where minimum/maximum do not apply: their comments say the range.
        schema["minimum"] = declared.min
        schema["maximum"] = declared.max
    return schema


def item_bounds(field: descriptor.FieldDescriptor) -> Schema:
    """A repeated field's declared number of entries as ``maxItems``/``minItems``."""
    declared = None if is_output_only(field) else bounds_of(field)
    schema: Schema = {}
    if declared is not None and declared.max_items:
        schema["maxItems"] = declared.max_items
    if declared is not None and declared.min_items:
        schema["minItems"] = declared.min_items
    return schema


class Schemas:
    """Collects ``components.schemas`` while fields are described; ``$ref`` by full name."""

    def __init__(self, comments: Mapping[str, str]) -> None:
        self.comments = comments
        self.components: dict[str, Schema] = {
            "google.rpc.Status": STATUS_SCHEMA,
            "google.protobuf.Any": dict(WELL_KNOWN["google.protobuf.Any"]),
        }

    def message(self, desc: descriptor.Descriptor) -> Schema:
        if desc.full_name in WELL_KNOWN:
            return dict(WELL_KNOWN[desc.full_name])
        if desc.full_name not in self.components:
            self.components[desc.full_name] = {}  # placeholder: messages may refer to themselves
            self.components[desc.full_name] = self.object(desc)
        return {"$ref": f"#/components/schemas/{desc.full_name}"}

    def object(self, desc: descriptor.Descriptor, exclude: Iterable[str] = ()) -> Schema:
        skipped = set(exclude)
        fields = [f for f in desc.fields if f.name not in skipped]
        schema: Schema = {"type": "object", "properties": {f.json_name: self.field(f) for f in fields}}
        required = [f.json_name for f in fields if field_behavior_pb2.REQUIRED in behaviors(f)]
        if required:
            schema["required"] = required
        if text := self.comments.get(desc.full_name):
            schema["description"] = text
        return schema

    def field(self, field: descriptor.FieldDescriptor) -> Schema:
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value = field.message_type.fields_by_name["value"]
            schema: Schema = {"type": "object", "additionalProperties": self.single(value)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.single(field), **item_bounds(field)}
        else:
            schema = self.single(field)
        extra: Schema = {}
        if text := self.comments.get(field.full_name):
            extra["description"] = text
        if field_behavior_pb2.OUTPUT_ONLY in behaviors(field):
            extra["readOnly"] = True
        if extra and "$ref" in schema:
            schema = {"allOf": [schema]}  # OpenAPI 3.0 ignores keywords beside a $ref
        return {**schema, **extra}

    def single(self, field: descriptor.FieldDescriptor) -> Schema:
        if field.message_type is not None:
            return self.message(field.message_type)
        if field.enum_type is not None:
            return self.enum(field.enum_type)
        return {**_SCALARS[field.type], **value_bounds(field)}

    def enum(self, desc: descriptor.EnumDescriptor) -> Schema:
        if desc.full_name not in self.components:
            lines = [f"- `{v.name}`: {self.comments.get(f'{desc.full_name}.{v.name}', '')}" for v in desc.values]
            head = self.comments.get(desc.full_name, "")
            self.components[desc.full_name] = {
                "type": "string",
                "enum": [v.name for v in desc.values],
                "description": "\n\n".join(part for part in (head, "\n".join(lines)) if part),
            }
        return {"$ref": f"#/components/schemas/{desc.full_name}"}
