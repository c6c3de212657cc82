"""The OpenAPI 3.0 document, built from the same bindings the router serves.

OpenAPI 3.0 (not 3.1) because the bundled Swagger UI renders 3.0 fully.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from google.protobuf import descriptor

from gateway.descriptors import Binding
from gateway.fields import WRAPPERS, find_field
from gateway.openapi_examples import COMMON_HEADERS, EXAMPLES, IDEMPOTENCY_KEY, IDEMPOTENT, Example, body_for
from gateway.schemas import WELL_KNOWN, Schema, Schemas, item_bounds
from gateway.streaming import NDJSON, SSE

_STATUS_REF = {"$ref": "#/components/schemas/google.rpc.Status"}
_MAX_QUERY_DEPTH = 3
_URL_MESSAGES = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask", *WRAPPERS}


def build_document(bindings: Sequence[Binding], comments: Mapping[str, str], auth_enabled: bool) -> dict[str, Any]:
    schemas = Schemas(comments)
    paths: dict[str, dict[str, Any]] = {}
    services: dict[str, descriptor.ServiceDescriptor] = {}
    for binding in sorted(bindings, key=lambda b: (b.template.openapi_path, b.http_method)):
        service = binding.method.descriptor.containing_service
        services[service.full_name] = service
        operation = _operation(binding, schemas, comments)
        paths.setdefault(binding.template.openapi_path, {})[binding.http_method.lower()] = operation
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "OMS mesh HTTP API",
            "version": "v1",
            "description": "HTTP/JSON transcoding of the OMS gRPC services (generated from the proto contracts). "
            "Errors are google.rpc.Status JSON; streams are Server-Sent Events or NDJSON.",
        },
        "tags": [
            {"name": s.name, "description": comments.get(s.full_name, s.full_name)}
            for s in sorted(services.values(), key=lambda s: s.name)
        ],
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
    if auth_enabled:
        document["security"] = [{"bearerAuth": []}]
    return document


def _operation(binding: Binding, schemas: Schemas, comments: Mapping[str, str]) -> dict[str, Any]:
    method = binding.method.descriptor
    text = comments.get(f"{method.containing_service.full_name}.{method.name}", "")
    example = EXAMPLES.get(method.full_name)
    operation: dict[str, Any] = {
        "operationId": binding.operation_id,
        "tags": [method.containing_service.name],
        "summary": text.split("\n")[0] if text else method.name,
        "parameters": _with_examples(list(_parameters(binding, schemas)), example) + _headers(binding),
        "responses": {"200": _success(binding, schemas), "default": _error_response(binding)},
    }
    if text:
        operation["description"] = text
    rule = binding.method.rule
    operation["x-oms-access"] = rule.access.label
    if not rule.needs_token:
        operation["security"] = [{}, {"bearerAuth": []}]  # a token is optional
    if binding.body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _body(binding, schemas)}},
        }
        if example is not None and example.body is not None:
            json_name = method.input_type.fields_by_name[binding.body].json_name if binding.body != "*" else ""
            operation["requestBody"]["content"]["application/json"]["example"] = body_for(
                example, binding.body, json_name
            )
    return operation


def _with_examples(parameters: list[dict[str, Any]], example: Example | None) -> list[dict[str, Any]]:
    """Swagger UI pre-fills a parameter with its ``example``: values of the demo data."""
    if example is None:
        return parameters
    given = example.path | example.query
    return [{**p, "example": given[p["name"]]} if p["name"] in given else p for p in parameters]


def _headers(binding: Binding) -> list[dict[str, Any]]:
    """The request headers the gateway reads (gateway/headers.py), as header parameters."""
    own = [IDEMPOTENCY_KEY] if binding.method.descriptor.full_name in IDEMPOTENT else []
    return [*own, *COMMON_HEADERS]


def _leaf(message: descriptor.Descriptor, dotted: str) -> descriptor.FieldDescriptor:
    current: descriptor.Descriptor | None = message
    field: descriptor.FieldDescriptor | None = None
    for part in dotted.split("."):
        field = find_field(current, part) if current is not None else None
        assert field is not None, f"{dotted!r} names no field of {message.full_name}"
        current = field.message_type
    assert field is not None
    return field


def _parameters(binding: Binding, schemas: Schemas) -> Iterator[dict[str, Any]]:
    request = binding.method.descriptor.input_type
    bound = {v.field_path for v in binding.template.variables}
    for field_path in sorted(bound):
        field = _leaf(request, field_path)
        yield {
            "name": field_path,
            "in": "path",
            "required": True,
            "schema": schemas.single(field),
            **_described(field, schemas),
        }
    if binding.body == "*":
        return
    if binding.method.server_streaming:
        yield {
            "name": "access_token",
            "in": "query",
            "description": "Bearer token for clients that cannot send headers (browser EventSource).",
            "schema": {"type": "string"},
        }
    top_level_bound = {path.split(".")[0] for path in bound} | ({binding.body} if binding.body else set())
    for field in request.fields:
        if field.name not in top_level_bound:
            yield from _query(field, field.name, schemas, 1, bound)


def _query(
    field: descriptor.FieldDescriptor, name: str, schemas: Schemas, depth: int, bound: set[str]
) -> Iterator[dict[str, Any]]:
    """Query parameters for a field: nested messages flatten to dotted names (as grpc-gateway)."""
    if name in bound or (field.message_type is not None and field.message_type.GetOptions().map_entry):
        return
    repeated = field.is_repeated
    nested_type = field.message_type
    if nested_type is not None and nested_type.full_name not in _URL_MESSAGES:
        if repeated or depth >= _MAX_QUERY_DEPTH:
            return
        for nested in nested_type.fields:
            yield from _query(nested, f"{name}.{nested.name}", schemas, depth + 1, bound)
        return
    single = dict(WELL_KNOWN[nested_type.full_name]) if nested_type is not None else schemas.single(field)
    schema: Schema = {"type": "array", "items": single, **item_bounds(field)} if repeated else single
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if repeated:
        parameter.update(style="form", explode=True)
    yield {**parameter, **_described(field, schemas)}


def _described(field: descriptor.FieldDescriptor, schemas: Schemas) -> dict[str, str]:
    text = schemas.comments.get(field.full_name)
    return {"description": text} if text else {}


def _body(binding: Binding, schemas: Schemas) -> Schema:
    request = binding.method.descriptor.input_type
    if binding.body == "*":
        top_level = {v.field_path for v in binding.template.variables if "." not in v.field_path}
        return schemas.object(request, exclude=top_level) if top_level else schemas.message(request)
    return schemas.field(request.fields_by_name[binding.body])


def _success(binding: Binding, schemas: Schemas) -> dict[str, Any]:
    output = binding.method.descriptor.output_type
    schema = (
        schemas.field(output.fields_by_name[binding.response_body])
        if binding.response_body
        else schemas.message(output)
    )
    if not binding.method.server_streaming:
        return {"description": "OK", "content": {"application/json": {"schema": schema}}}
    ndjson_line = {"type": "object", "properties": {"result": schema, "error": _STATUS_REF}}
    return {
        "description": "A stream. Server-Sent Events by default: each message is one `data:` line of JSON and a "
        "failure is an `event: error` carrying a Status. With `Accept: application/x-ndjson`, one "
        '`{"result": …}` or `{"error": Status}` object per line.',
        "content": {SSE: {"schema": {"type": "string"}}, NDJSON: {"schema": ndjson_line}},
    }


def _error_response(binding: Binding) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _STATUS_REF}}
    description = (
        "An error: the gRPC status mapped to HTTP (404 NOT_FOUND, 400 INVALID_ARGUMENT/"
        "FAILED_PRECONDITION/OUT_OF_RANGE, 401, 403, 409, 429, 499, 501, 503, 504, else 500)."
    )
    if binding.method.server_streaming:
        # grpc-gateway's framing of an error before the first message of a stream.
        content[NDJSON] = {"schema": {"type": "object", "required": ["error"], "properties": {"error": _STATUS_REF}}}
        description += (
            " With `Accept: application/x-ndjson`, an error of the stream call (before any message) is one "
            '`{"error": Status}` line.'
        )
    return {"description": description, "content": content}
