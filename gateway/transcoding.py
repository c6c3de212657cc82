"""HTTP request → protobuf request message, and protobuf response → JSON.

The body is parsed first, then path variables and query parameters are set on top (so a path
variable wins over the same field in the body, as in grpc-gateway). JSON is the standard
proto3 mapping: lowerCamel names are printed, proto and lowerCamel names are both accepted,
unknown fields are refused.

Hostile bodies are 400s: nesting deeper than ``MAX_JSON_DEPTH`` is refused before the
protobuf parser (which recurses per level) sees it, a value of the wrong JSON type names its
field, an enum number the contract does not define is refused, and no error text quotes more
than a short cut of what was sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from google.protobuf import field_mask_pb2, json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message
from starlette.requests import Request

from gateway.body_errors import enum_number_problem, first_problem
from gateway.descriptors import Binding
from gateway.enum_aliases import expand_enum_aliases
from gateway.errors import bad_request
from gateway.fields import find_field, proto_path, resolve, set_from_strings
from mesh.serving.errors import shown

# Query parameters the gateway itself consumes; never set on a request message.
RESERVED_QUERY = frozenset({"access_token"})
# Far deeper than any request message (the deepest is 3 levels); JSON parsers recurse per level.
MAX_JSON_DEPTH = 64
# Parse errors quote at most this much of the reason (which may hold the value sent).
_REASON_CHARS = 160


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (400) past ``limit`` bytes without reading the rest."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> Exception:
    return bad_request(f"request body exceeds the limit of {limit} bytes")


def parse_json(body: bytes) -> Any:
    try:
        document = json.loads(body) if body.strip() else None
    except json.JSONDecodeError as exc:
        # Where, not the parser's wording (nor a quote of what was sent).
        raise bad_request(f"malformed JSON body at line {exc.lineno}, column {exc.colno}") from None
    except UnicodeDecodeError:
        raise bad_request("malformed JSON body: not UTF-8 text") from None
    except RecursionError:
        # The C parser counts its levels against the interpreter's recursion limit and gives up
        # cleanly after about a thousand: cheap, whatever the body's length.
        raise _too_deep() from None
    if nested_deeper_than(document, MAX_JSON_DEPTH):
        raise _too_deep()
    return document


def _too_deep() -> Exception:
    return bad_request(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels")


def nested_deeper_than(document: Any, limit: int) -> bool:
    """Whether arrays/objects nest more than ``limit`` levels (walked without recursion: the
    protobuf JSON parser recurses per level, so it is only handed shallow documents)."""
    level: list[Any] = [document]  # the containers (and values) at one depth
    for _ in range(limit):
        deeper: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                deeper.extend(node.values())
            elif isinstance(node, list):
                deeper.extend(node)
        if not any(isinstance(node, (dict, list)) for node in deeper):
            return False
        level = deeper
    return True


def _cut(text: str, limit: int = _REASON_CHARS) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…"


def build_request(
    binding: Binding,
    path_params: Mapping[str, str],
    query: Sequence[tuple[str, str]],
    body_json: Any,
) -> Message:
    message = binding.method.input_class()
    descriptor = binding.method.descriptor.input_type
    if binding.body and body_json is not None:
        if binding.body == "*":
            document = body_json
        else:
            field = find_field(descriptor, binding.body)
            assert field is not None, f"annotation body {binding.body!r} names no field"
            document = {field.name: body_json}
        _parse_into(document, message)
    bound = set()
    for field_path, value in path_params.items():
        chain = resolve(descriptor, field_path)
        set_from_strings(message, chain, [value])
        bound.add(proto_path(chain))
    if binding.body != "*":
        _apply_query(message, binding, query, bound)
    return message


def _parse_into(document: Any, message: Message) -> None:
    if not isinstance(document, dict):
        raise bad_request(f"the body must be a JSON object, not {_json_type(document)}")
    descriptor: Descriptor = message.DESCRIPTOR  # type: ignore[assignment]
    expand_enum_aliases(document, descriptor)
    try:
        json_format.ParseDict(document, message, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        # The parser's text is for Python programmers: name the bad value the client's way.
        problem = first_problem(document, descriptor)
        if problem is None:
            raise bad_request(f"invalid body: {_cut(str(exc))}") from None
        raise bad_request(problem.message, problem.path, problem.description) from None
    if (problem := enum_number_problem(document, descriptor)) is not None:
        raise bad_request(problem.message, problem.path, problem.description)


def _json_type(document: Any) -> str:
    if isinstance(document, list):
        return "an array"
    if isinstance(document, str):
        return "a string"
    if isinstance(document, bool):
        return "a boolean"
    if isinstance(document, (int, float)):
        return "a number"
    return "null"


def _apply_query(message: Message, binding: Binding, query: Sequence[tuple[str, str]], bound: set[str]) -> None:
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        if key not in RESERVED_QUERY:
            grouped.setdefault(key, []).append(value)
    body_field = binding.body
    for key, values in grouped.items():
        chain = resolve(binding.method.descriptor.input_type, key)
        path = proto_path(chain)
        if path in bound or (body_field and chain[0].name == body_field):
            raise bad_request(f"{shown(path)} is bound to the path or body and cannot be a query parameter", path)
        set_from_strings(message, chain, values)


def fill_update_mask(binding: Binding, message: Message, body_json: Any, query_keys: set[str]) -> None:
    """PATCH with a named body and no mask from the client: mask = the leaf paths of the body.

    As grpc-gateway's FieldMaskFromRequestBody: an object given for a message field is descended
    into (``{"price": {"units": "5"}}`` → ``price.units``, so a partial update of a nested
    message leaves its siblings alone); a repeated or map field, a value that is not an object
    (a Timestamp string, a wrapper's scalar, null) and an empty object end a path; a
    ``Struct``/``Value`` is followed along the JSON keys; an ``Any`` is one path.
    """
    if binding.http_method != "PATCH" or binding.body in ("", "*") or not isinstance(body_json, dict):
        return
    request = binding.method.descriptor.input_type
    mask_field = request.fields_by_name.get("update_mask")
    if mask_field is None or mask_field.message_type is None:
        return
    if mask_field.message_type.full_name != field_mask_pb2.FieldMask.DESCRIPTOR.full_name:
        return
    if {"update_mask", "updateMask"} & query_keys:
        return
    body_field = find_field(request, binding.body)
    if body_field is None or body_field.message_type is None:
        return
    paths = body_leaf_paths(body_json, body_field.message_type)
    message.update_mask.paths.extend(sorted(set(paths)))  # type: ignore[attr-defined]


_DYNAMIC = frozenset({"google.protobuf.Struct", "google.protobuf.Value"})
_ANY = "google.protobuf.Any"


def body_leaf_paths(document: dict[str, Any], descriptor: Descriptor) -> list[str]:
    """The proto paths of every leaf present in a (parsed, already validated) JSON object."""
    paths: list[str] = []
    pending: list[tuple[str, dict[str, Any], Descriptor | None]] = [("", document, descriptor)]
    while pending:
        prefix, node, current = pending.pop()
        for key, value in node.items():
            field = find_field(current, key) if current is not None else None
            # Keys under a Struct are not fields; the body parsed, so any other key names one.
            name = field.name if field is not None else key
            path = f"{prefix}{name}"
            nested = field.message_type if field is not None else None
            # A repeated or map field, a scalar and an Any end a path; so does a value that is no
            # object or an empty one (a Timestamp's string, null, {}).
            ends = field is not None and (field.is_repeated or nested is None or nested.full_name == _ANY)
            if ends or not isinstance(value, dict) or not value:
                paths.append(path)
                continue
            dynamic = current is None or (nested is not None and nested.full_name in _DYNAMIC)
            pending.append((f"{path}.", value, None if dynamic else nested))
    return paths


def to_json_dict(message: Message, binding: Binding, emit_unpopulated: bool) -> Any:
    document = json_format.MessageToDict(message, always_print_fields_with_no_presence=emit_unpopulated)
    if binding.response_body:
        field = message.DESCRIPTOR.fields_by_name[binding.response_body]
        if field.json_name in document:
            return document[field.json_name]
        # Not printed because it is empty: answer its empty form ({} for a map, [] for a list).
        return json_format.MessageToDict(message, always_print_fields_with_no_presence=True).get(field.json_name)
    return document


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
