"""Hostile request messages for every RPC of the contracts, generated from their descriptors.

Nothing here names a service, an RPC or a field: the RPCs are found by walking the generated
``oms.*_pb2`` modules, and each request is built field by field from its descriptor, so an RPC
or a field added to ``proto/`` is attacked without a change here. The few things that need
knowledge of the world (ids that exist, page tokens the services handed out) come in a
``Pools`` object the caller fills from the running mesh.

Every drawn value carries the name of its hostile class (``reason: 600000 x 'a'``), so a
finding can say which kind of input caused it without printing the input.
"""

from __future__ import annotations

import base64
import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.api import annotations_pb2
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

import oms

# Sizes just past the bounds the contracts declare (ids 128, names 200, email 254, reasons
# 500), then far past them; 600k characters of one reason is the event that once wedged the
# outbox (issue 12).
OVERSIZED_LENGTHS = (129, 201, 255, 501, 1_001, 10_000, 100_000)
WEDGE_LENGTH = 600_000
MANY_ITEMS = (101, 501, 1_001, 10_000)
INT_LIMITS = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
UNKNOWN_ENUM_NUMBERS = (99, -1, 2**31 - 1, -(2**31))
MAX_DEPTH = 4

_T = FieldDescriptor
_INT_KIND = {
    _T.TYPE_INT32: "int32",
    _T.TYPE_SINT32: "int32",
    _T.TYPE_SFIXED32: "int32",
    _T.TYPE_UINT32: "uint32",
    _T.TYPE_FIXED32: "uint32",
    _T.TYPE_INT64: "int64",
    _T.TYPE_SINT64: "int64",
    _T.TYPE_SFIXED64: "int64",
    _T.TYPE_UINT64: "uint64",
    _T.TYPE_FIXED64: "uint64",
}

# One sample per class of awkward text; none of them is valid as anything in particular.
AWKWARD_TEXT = {
    "astral": "\U0001d518\U0001d52b\U0001d526\U0001f600\U00010348",
    "rtl-override": "\u202eevil\u202c\u200f\u0645\u0631\u062d\u0628\u0627",
    "combining": "e" + "\u0301\u0336\u0489" * 40,
    "zero-width": "\u200b\ufeff\u2060\u200d",
    "nul": "a\x00b",
    "only-nul": "\x00",
    "control": "\x01\x02\x07\x1b[31m\x7f\r\n\t",
    "newlines": "line1\nline2\r\n\u2028\u2029",
    "sql": "'; DROP TABLE orders; --",
    "path": "../../../etc/passwd",
    "template": "${jndi:ldap://x}{{7*7}}%s%n",
    "percent": "%00%ff%2e%2e",
    "number-like": "-9223372036854775809",
    "whitespace": "   ",
    "replacement": "\ufffd\ufffe\uffff",
}
OVERSIZE_CHARS = ("a", "é", "\U0001f600", "\u202e", "\x01")


@dataclass(frozen=True)
class Rpc:
    """One RPC of the contracts, as found in the descriptors."""

    method: MethodDescriptor

    @property
    def path(self) -> str:
        return f"/{self.method.containing_service.full_name}/{self.method.name}"

    @property
    def service(self) -> str:
        return str(self.method.containing_service.full_name)

    @property
    def name(self) -> str:
        return f"{self.method.containing_service.name}.{self.method.name}"

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)

    @property
    def client_streaming(self) -> bool:
        return bool(self.method.client_streaming)

    @property
    def reads_only(self) -> bool:
        """Mapped to HTTP GET: must change nothing. Everything else may write."""
        rule = self.method.GetOptions().Extensions[annotations_pb2.http]
        return bool(rule.WhichOneof("pattern") == "get")

    @property
    def request_type(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def response_type(self) -> type[Message]:
        return message_factory.GetMessageClass(self.method.output_type)


def contract_rpcs() -> list[Rpc]:
    """Every RPC of every service in every generated ``oms`` module, in a stable order."""
    found: dict[str, Rpc] = {}
    for info in pkgutil.walk_packages(oms.__path__, f"{oms.__name__}."):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(info.name)
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                rpc = Rpc(method)
                found[rpc.path] = rpc
    return [found[path] for path in sorted(found)]


@dataclass
class Pools:
    """Values from the running mesh that let generated requests get past "not found"."""

    ids: dict[str, list[str]] = field(default_factory=dict)  # "order_id" → ids that exist
    page_tokens: list[str] = field(default_factory=list)
    field_names: list[str] = field(default_factory=list)

    def ids_for(self, field_name: str) -> list[str]:
        singular = field_name.removesuffix("s") if field_name.endswith("_ids") else field_name
        return self.ids.get(singular) or [i for values in self.ids.values() for i in values]


@dataclass(frozen=True)
class Drawn:
    """A generated value and the hostile classes it holds (``items: 10000 entries``)."""

    value: Any
    classes: tuple[str, ...] = ()


Labelled = st.SearchStrategy[Drawn]


def requests(descriptor: Descriptor, pools: Pools) -> Labelled:
    """Whole request messages of ``descriptor``'s type, hostile in any of their fields."""
    return _message(descriptor, pools, prefix="", depth=0, small=False)


# --- messages -----------------------------------------------------------------------------------


def _message(descriptor: Descriptor, pools: Pools, *, prefix: str, depth: int, small: bool) -> Labelled:
    cls = message_factory.GetMessageClass(descriptor)
    fields = list(descriptor.fields)
    if depth >= MAX_DEPTH or not fields:
        return st.just(Drawn(cls(), (f"{prefix or '<root>'}: empty message",) if depth == 0 else ()))
    per_field = [st.one_of(st.none(), _field(f, pools, prefix=prefix, depth=depth, small=small)) for f in fields]

    def build(values: Sequence[Drawn | None]) -> Drawn:
        message = cls()
        classes: list[str] = []
        for fd, drawn in zip(fields, values, strict=True):
            if drawn is None:
                continue
            _assign(message, fd, drawn.value)
            classes += drawn.classes
        return Drawn(message, tuple(classes))

    return st.tuples(*per_field).map(build)


def _assign(message: Message, fd: FieldDescriptor, value: Any) -> None:
    target = getattr(message, fd.name)
    if fd.message_type is not None and _is_map(fd):
        value_fd = fd.message_type.fields_by_name["value"]
        for key, item in value:
            if value_fd.message_type is not None:
                target[key].CopyFrom(item)
            else:
                target[key] = item
    elif fd.is_repeated:
        target.extend(value)
    elif fd.message_type is not None:
        target.CopyFrom(value)
    else:
        setattr(message, fd.name, value)


def _is_map(fd: FieldDescriptor) -> bool:
    return fd.message_type is not None and fd.message_type.GetOptions().map_entry


def _field(fd: FieldDescriptor, pools: Pools, *, prefix: str, depth: int, small: bool) -> Labelled:
    path = f"{prefix}{fd.name}"
    if fd.message_type is not None and _is_map(fd):
        key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
        entry = st.tuples(
            _single(key_fd, pools, path=f"{path}.key", depth=depth, small=True),
            _single(value_fd, pools, path=f"{path}.value", depth=depth, small=True),
        )
        return _repeated(
            entry.map(lambda kv: Drawn((kv[0].value, kv[1].value), kv[0].classes + kv[1].classes)),
            path,
            small=small,
            distinct=None,
        )
    if fd.is_repeated:
        # A few entries may each be oversized; thousands of entries are each ordinary.
        few = _single(fd, pools, path=f"{path}[]", depth=depth, small=small)
        many = _single(fd, pools, path=f"{path}[]", depth=depth, small=True)
        distinct = _distinct_strings if fd.type == _T.TYPE_STRING else None
        return _repeated(few, path, small=small, distinct=distinct, many_of=many)
    return _single(fd, pools, path=path, depth=depth, small=small)


def _repeated(
    element: Labelled,
    path: str,
    *,
    small: bool,
    distinct: Callable[[Any, int], Any] | None,
    many_of: Labelled | None = None,
) -> Labelled:
    """Empty, a few elements, or (unless ``small``) hundreds to thousands of copies of one."""
    few = st.lists(element, min_size=1, max_size=4).map(
        lambda items: Drawn([d.value for d in items], tuple(c for d in items for c in d.classes))
    )
    options = [st.just(Drawn([], (f"{path}: no entries",))), few]
    if not small:

        def many(args: tuple[Drawn, int]) -> Drawn:
            drawn, count = args
            values = [distinct(drawn.value, i) if distinct else drawn.value for i in range(count)]
            return Drawn(values, (f"{path}: {count} entries", *drawn.classes))

        options.append(st.tuples(element if many_of is None else many_of, st.sampled_from(MANY_ITEMS)).map(many))
    return st.one_of(*options)


def _distinct_strings(value: Any, index: int) -> Any:
    # Thousands of different ids (each would be looked up), not one id thousands of times.
    if index == 0 or not isinstance(value, str) or len(value) >= 200:
        return value
    return f"{value}{index}"


def _single(fd: FieldDescriptor, pools: Pools, *, path: str, depth: int, small: bool) -> Labelled:
    if fd.message_type is not None:
        return _message(fd.message_type, pools, prefix=f"{path}.", depth=depth + 1, small=small)
    if fd.enum_type is not None:
        return _enum(fd, path)
    if fd.type == _T.TYPE_STRING:
        return _string(fd.name, pools, path, small=small)
    if fd.type == _T.TYPE_BYTES:
        return _bytes(path, small=small)
    if fd.type == _T.TYPE_BOOL:
        return st.booleans().map(Drawn)
    if fd.type in (_T.TYPE_DOUBLE, _T.TYPE_FLOAT):
        specials = st.sampled_from([float("nan"), float("inf"), float("-inf"), -0.0, 1e308, -1e308, 5e-324])
        return st.one_of(specials.map(lambda v: Drawn(v, (f"{path}: {v!r}",))), st.floats(width=32).map(Drawn))
    return _integer(_INT_KIND[fd.type], path)


def _enum(fd: FieldDescriptor, path: str) -> Labelled:
    assert fd.enum_type is not None
    known = [v.number for v in fd.enum_type.values]
    unknown = st.sampled_from(UNKNOWN_ENUM_NUMBERS).map(lambda n: Drawn(n, (f"{path}: unknown enum number {n}",)))
    return st.one_of(st.sampled_from(known).map(Drawn), unknown)


def _integer(kind: str, path: str) -> Labelled:
    low, high = INT_LIMITS[kind]
    edges = sorted({low, low + 1, high - 1, high, 0, 1} | ({-1} if low < 0 else set()))
    extreme = st.sampled_from(edges).map(lambda n: Drawn(n, (f"{path}: {kind} edge {n}",)))
    near_bounds = st.sampled_from([2, 99, 100, 101, 499, 500, 501, 999, 1000, 1001]).map(Drawn)
    anything = st.integers(low, high).map(lambda n: Drawn(n, (f"{path}: {kind} {n}",)))
    return st.one_of(extreme, near_bounds, anything)


def _string(name: str, pools: Pools, path: str, *, small: bool) -> Labelled:
    options: list[Labelled] = [
        st.just(Drawn("", (f"{path}: empty",))),
        st.sampled_from(sorted(AWKWARD_TEXT)).map(lambda k: Drawn(AWKWARD_TEXT[k], (f"{path}: {k} text",))),
        st.text(st.characters(codec="utf-8"), max_size=40).map(lambda s: Drawn(s, (f"{path}: random text",))),
    ]
    if name.endswith(("_id", "_ids")):
        known = pools.ids_for(name)
        if known:
            real = st.sampled_from(known)
            options += [real.map(Drawn), real.map(Drawn)]  # twice: ids that exist reach deeper code
    if name == "paths" and pools.field_names:
        options.append(st.sampled_from(pools.field_names).map(Drawn))
    if "token" in name:
        options.append(page_tokens(pools).map(lambda t: Drawn(t[1], (f"{path}: {t[0]} token",))))
    if not small:
        options.append(oversized(path))
    return st.one_of(*options)


def oversized(path: str, lengths: Sequence[int] = (*OVERSIZED_LENGTHS, WEDGE_LENGTH)) -> Labelled:
    def build(args: tuple[str, int]) -> Drawn:
        char, length = args
        return Drawn(char * length, (f"{path}: {length} x {char!r}",))

    return st.tuples(st.sampled_from(OVERSIZE_CHARS), st.sampled_from(lengths)).map(build)


def _bytes(path: str, *, small: bool) -> Labelled:
    options = [st.binary(max_size=64).map(Drawn)]
    if not small:
        options.append(st.sampled_from(OVERSIZED_LENGTHS).map(lambda n: Drawn(b"\xff" * n, (f"{path}: {n} bytes",))))
    return st.one_of(*options)


# --- page tokens ----------------------------------------------------------------------------


def page_tokens(pools: Pools) -> st.SearchStrategy[tuple[str, str]]:
    """(class, token): real tokens, tampered ones, forged ones, and ones that are not tokens."""
    forged = st.sampled_from(list(_forged_tokens()))
    options = [forged]
    if pools.page_tokens:
        real = st.sampled_from(pools.page_tokens)
        options += [
            real.map(lambda t: ("real", t)),
            st.tuples(real, st.integers(1, 40)).map(lambda a: ("truncated", a[0][: max(0, len(a[0]) - a[1])])),
            st.tuples(real, st.integers(0, 200)).map(lambda a: ("bit-flipped", _flip(a[0], a[1]))),
            real.map(lambda t: ("re-encoded", _tampered(t))),
            real.map(lambda t: ("doubled", t + t)),
        ]
    return st.one_of(*options)


_TAMPERINGS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("truncated", lambda t: t[: len(t) // 2]),
    ("last character dropped", lambda t: t[:-1]),
    ("bit-flipped", lambda t: _flip(t, len(t) // 3)),
    ("re-encoded", lambda t: _tampered(t)),
    ("doubled", lambda t: t + t),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _forged_tokens() -> Iterator[tuple[str, str]]:
    shapes: list[Any] = [
        {"k": "orders", "p": ["x"]},
        {"k": "orders", "p": [2**70, "x"]},
        {"k": "orders", "p": "not a list"},
        {"k": "customers", "p": [None, None]},
        {"k": "products", "p": [[1, 2], {"a": 1}]},
        {"k": "notifications", "p": ["2026-13-45T99:99:99Z", "x"]},
        {"k": 1, "p": []},
        {"p": [1]},
        [1, 2, 3],
        "just a string",
        {"k": "orders", "p": ["9" * 400]},
        {"k": "orders", "p": list(range(1000))},
    ]
    for shape in shapes:
        yield "forged", _b64(json.dumps(shape).encode())
    nested = "[" * 5000 + "]" * 5000
    yield "deeply nested", _b64(nested.encode())
    yield "not base64", "!!!not*base64###"
    yield "base64 of garbage", _b64(bytes(range(256)))
    yield "padding only", "===="
    yield "huge", "A" * 100_000


def _flip(token: str, position: int) -> str:
    if not token:
        return "A"
    index = position % len(token)
    char = "B" if token[index] != "B" else "C"
    return token[:index] + char + token[index + 1 :]


def _tampered(token: str) -> str:
    """Decoded, one number changed, encoded again the same way: a forgery of a real token."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        return token[::-1]
    changed = re.sub(rb"\d", b"7", raw, count=3) if re.search(rb"\d", raw) else raw + b"x"
    return _b64(changed)


# --- bytes that are not the request message ---------------------------------------------------


def not_protobuf() -> st.SearchStrategy[tuple[str, bytes]]:
    """(class, raw request bytes): garbage, truncations, wrong wire types, bad UTF-8, deep nesting."""
    crafted = st.sampled_from(list(_crafted_wire()))
    garbage = st.binary(min_size=1, max_size=256).map(lambda b: ("random bytes", b))
    return st.one_of(crafted, garbage)


def _crafted_wire() -> Iterator[tuple[str, bytes]]:
    yield "truncated varint", b"\x08\xff\xff\xff"
    yield "length past the end", b"\x0a\xff\xff\xff\x7f" + b"a" * 10
    yield "invalid UTF-8 in field 1", b"\x0a\x04\xff\xfe\xc0\x80"
    yield "surrogate (CESU-8) in field 1", b"\x0a\x03\xed\xa0\x80"
    yield "field 1 as fixed64", b"\x09" + b"\x00" * 8
    yield "field 2 as length-delimited", b"\x12\x03abc"
    yield "field number 0", b"\x00\x01"
    yield "end-group without start", b"\x0c"
    yield "deeply nested groups", b"\x0b" * 5_000 + b"\x0c" * 5_000
    yield "deeply nested submessages", _nested(200)
    yield "reserved wire type 6", b"\x0e\x01"
    yield "JSON instead of protobuf", b'{"order_id": "x"}'
    yield "HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    yield "10 MB of zeros", b"\x00" * 10_000_000


def _nested(depth: int) -> bytes:
    inner = b""
    for _ in range(depth):
        inner = b"\x0a" + _varint(len(inner)) + inner
    return inner


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


# --- describing a request without printing it ------------------------------------------------


def summarize(message: Message, *, limit: int = 400) -> str:
    """A short rendering: long strings and long lists elided with their sizes."""
    text = _render(message)
    return text if len(text) <= limit else text[:limit] + "…"


def _render(message: Message) -> str:
    parts = []
    for fd, value in message.ListFields():
        if _is_map(fd):
            parts.append(f"{fd.name}={{{len(value)} entries}}")
        elif fd.is_repeated:
            shown = ", ".join(_scalar(v) for v in list(value)[:3])
            more = f", … {len(value)} in all" if len(value) > 3 else ""
            parts.append(f"{fd.name}=[{shown}{more}]")
        else:
            parts.append(f"{fd.name}={_scalar(value)}")
    return "{" + ", ".join(parts) + "}"


def _scalar(value: Any) -> str:
    if isinstance(value, Message):
        return _render(value)
    if isinstance(value, str | bytes) and len(value) > 40:
        return f"{value[:20]!r}…({len(value)} {'chars' if isinstance(value, str) else 'bytes'})"
    return repr(value)


def strings_in(message: Message) -> Iterator[str]:
    """Every string value of ``message`` at any depth (to check errors do not echo them)."""
    for fd, value in message.ListFields():
        values = value.values() if _is_map(fd) else value if fd.is_repeated else [value]
        for item in values:
            if isinstance(item, str):
                yield item
            elif isinstance(item, Message):
                yield from strings_in(item)


# --- fixed attacks, tried first on every RPC ------------------------------------------------


def fixed_requests(descriptor: Descriptor, pools: Pools) -> list[Drawn]:
    """A few requests every RPC gets, whatever hypothesis draws: each field at one extreme.

    Ids are real where the pools know some, so the oversized values get past "not found"
    into the code that stores them (a reason of 600k characters on an order that exists).
    """

    def real_id(fd: FieldDescriptor) -> str | None:
        known = pools.ids_for(fd.name) if fd.type == _T.TYPE_STRING and fd.name.endswith(("_id", "_ids")) else []
        return known[0] if known else None

    def wedge(fd: FieldDescriptor) -> Any:
        if fd.containing_type is not None and fd.containing_type.full_name == "google.protobuf.FieldMask":
            return None  # an empty mask: "every field given", so the oversized values are applied
        return real_id(fd) or ("a" * WEDGE_LENGTH if fd.type == _T.TYPE_STRING else None)

    def long_ids(fd: FieldDescriptor) -> Any:
        return "\U0001f600" * 100_000 if fd.type == _T.TYPE_STRING else None

    def numbers(fd: FieldDescriptor) -> Any:
        if fd.enum_type is not None:
            return UNKNOWN_ENUM_NUMBERS[0]
        if fd.type in _INT_KIND:
            return INT_LIMITS[_INT_KIND[fd.type]][1]
        return real_id(fd)

    def negative(fd: FieldDescriptor) -> Any:
        if fd.type in _INT_KIND:
            return INT_LIMITS[_INT_KIND[fd.type]][0]
        return real_id(fd)

    cls = message_factory.GetMessageClass(descriptor)
    return [
        Drawn(cls(), ("<root>: empty message",)),
        _filled(descriptor, wedge, count=1, label=f"every string {WEDGE_LENGTH} chars, ids real"),
        _filled(descriptor, long_ids, count=1, label="every string 100000 astral chars"),
        # 100: the most order lines a request may hold, each naming a different (unknown) product.
        *(
            _filled(descriptor, lambda fd: real_id(fd) or _plain(fd), count=n, label=f"every list {n} entries")
            for n in (100, 10_000)
        ),
        _filled(descriptor, numbers, count=1, label="every number at its maximum, enums unknown"),
        _filled(descriptor, negative, count=1, label="every number at its minimum"),
        *_token_requests(descriptor, pools),
    ]


def _token_requests(descriptor: Descriptor, pools: Pools) -> list[Drawn]:
    """For a request with a page token: one request per kind of forged or tampered token."""
    fields = [fd for fd in descriptor.fields if fd.type == _T.TYPE_STRING and "token" in fd.name and not fd.is_repeated]
    cls = message_factory.GetMessageClass(descriptor)
    real = pools.page_tokens  # each listing's own, tampered, and the others' as they are
    tokens = [
        *_forged_tokens(),
        *(("real", t) for t in real),
        *((kind, change(t)) for t in real for kind, change in _TAMPERINGS),
    ]
    return [Drawn(cls(**{fd.name: token}), (f"{fd.name}: {kind} token",)) for fd in fields for kind, token in tokens]


def _plain(fd: FieldDescriptor) -> Any:
    """An ordinary value of the field's type."""
    if fd.enum_type is not None:
        return fd.enum_type.values[-1].number
    if fd.type == _T.TYPE_STRING:
        return "x"
    if fd.type == _T.TYPE_BYTES:
        return b"x"
    if fd.type == _T.TYPE_BOOL:
        return True
    if fd.type in (_T.TYPE_DOUBLE, _T.TYPE_FLOAT):
        return 1.0
    return 1


def _filled(descriptor: Descriptor, choose: Callable[[FieldDescriptor], Any], *, count: int, label: str) -> Drawn:
    return Drawn(_fill(descriptor, choose, count=count, depth=0), (label,))


def _fill(
    descriptor: Descriptor, choose: Callable[[FieldDescriptor], Any], *, count: int, depth: int, index: int = 0
) -> Message:
    """Every field set by ``choose``; lists of ``count`` entries, each naming a different id
    (``p-1``, ``p-11``, ``p-12``…: thousands of lookups, not one id merged thousands of times)."""
    message = message_factory.GetMessageClass(descriptor)()
    if depth >= MAX_DEPTH:
        return message
    for fd in descriptor.fields:
        if _is_map(fd):
            continue
        if fd.message_type is not None and fd.is_repeated:
            value: Any = [_fill(fd.message_type, choose, count=1, depth=depth + 1, index=i) for i in range(count)]
        elif fd.message_type is not None:
            value = _fill(fd.message_type, choose, count=count, depth=depth + 1, index=index)
        else:
            one = choose(fd)
            if one is None:
                continue
            if fd.is_repeated:
                value = [_distinct_strings(one, i) for i in range(count)]
            else:
                value = _distinct_strings(one, index)
        _assign(message, fd, value)
    return message
