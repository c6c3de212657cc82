"""HTTP headers ↔ gRPC metadata, as grpc-gateway does, plus the headers users asked it for.

In: ``Authorization``, ``Grpc-Metadata-<key>`` (prefix removed), ``X-Request-Id``,
``Idempotency-Key``, W3C ``traceparent``/``tracestate``, ``X-Forwarded-For`` (client appended)
and ``X-Forwarded-Host``. ``Grpc-Timeout`` becomes the deadline. Out: upstream initial metadata
as ``Grpc-Metadata-<key>``, trailing metadata as ``Grpc-Trailer-<key>``.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterable

from starlette.requests import Request

from gateway.errors import bad_request
from mesh.serving.errors import SHOWN_CHARS, shown

METADATA_PREFIX = "grpc-metadata-"
_FORWARDED_AS_IS = ("authorization", "x-request-id", "idempotency-key", "traceparent", "tracestate")
_VALID_KEY = re.compile(r"^[0-9a-z_.\-]+$")
_TIMEOUT = re.compile(r"^(\d{1,8})([HMSmun])$")
_UNIT_SECONDS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
# Set by the gRPC library or the transport; a client must not be able to override them.
_RESERVED = {"content-type", "user-agent", "te", "host", "connection"}
# What gRPC allows in a text metadata value (printable ASCII); anything else would make the
# upstream call itself fail, so it is refused (or, for trace context, dropped) here.
_METADATA_TEXT = re.compile(r"^[\x20-\x7e]*$")
# W3C Trace Context: a vendor must ignore a traceparent/tracestate it cannot parse, not fail.
_IGNORED_WHEN_INVALID = {"traceparent", "tracestate"}

Metadata = list[tuple[str, str | bytes]]


def request_id_of(request: Request) -> str:
    given = request.headers.get("x-request-id", "").strip()
    return given if given and len(given) <= 128 and _METADATA_TEXT.match(given) else uuid.uuid4().hex


def parse_grpc_timeout(value: str) -> float:
    """``5S``, ``300m``, ``1H`` … (gRPC's wire format) → seconds."""
    found = _TIMEOUT.match(value.strip())
    if not found:
        raise bad_request(
            f"invalid Grpc-Timeout {shown(value)}: expected 1-8 digits and one of H M S m u n", "Grpc-Timeout"
        )
    seconds = int(found.group(1)) * _UNIT_SECONDS[found.group(2)]
    if seconds <= 0:
        raise bad_request("invalid Grpc-Timeout: a deadline of zero can never be met", "Grpc-Timeout")
    return seconds


def deadline_of(request: Request, default_s: float) -> float:
    value = request.headers.get("grpc-timeout")
    return parse_grpc_timeout(value) if value else default_s


def outgoing_metadata(request: Request, request_id: str, authorization: str | None) -> Metadata:
    metadata: Metadata = []
    for name in _FORWARDED_AS_IS:
        value = request.headers.get(name)
        if name == "x-request-id":
            value = request_id
        elif name == "authorization":
            value = authorization
        if value and not _METADATA_TEXT.match(value):
            if name in _IGNORED_WHEN_INVALID:
                continue
            header = name.title() if name != "idempotency-key" else "Idempotency-Key"
            raise bad_request(f"header {header} must be printable ASCII", header)
        if value:
            metadata.append((name, value))
    for name, value in request.headers.items():
        if name.startswith(METADATA_PREFIX):
            metadata.append(_custom(name[len(METADATA_PREFIX) :], value))
    client = request.client.host if request.client else None
    forwarded = [v.strip() for v in request.headers.get("x-forwarded-for", "").split(",") if v.strip()]
    if client:
        forwarded.append(client)
    if forwarded:
        metadata.append(("x-forwarded-for", ", ".join(forwarded)))
    if host := request.headers.get("host"):
        metadata.append(("x-forwarded-host", host))
    return metadata


def _custom(key: str, value: str) -> tuple[str, str | bytes]:
    # `authorization` comes only from the Authorization header the gateway has checked.
    if not _VALID_KEY.match(key) or key.startswith("grpc-") or key in _RESERVED or key == "authorization":
        name = f"{METADATA_PREFIX}{key}"[: SHOWN_CHARS + len(METADATA_PREFIX)]  # the caller's, unbounded
        raise bad_request(f"header {name} cannot be sent as gRPC metadata", name)
    if key.endswith("-bin"):
        try:
            return key, base64.b64decode(value + "=" * (-len(value) % 4), validate=False)
        except (binascii.Error, ValueError):
            raise bad_request(f"header {METADATA_PREFIX}{key} must be base64", f"{METADATA_PREFIX}{key}") from None
    if not _METADATA_TEXT.match(value):
        raise bad_request(f"header {METADATA_PREFIX}{key} must be printable ASCII", f"{METADATA_PREFIX}{key}")
    return key, value


def response_headers(
    initial: Iterable[tuple[str, str | bytes]], trailing: Iterable[tuple[str, str | bytes]] = ()
) -> dict[str, str]:
    headers: dict[str, str] = {}
    for prefix, metadata in (("Grpc-Metadata-", initial), ("Grpc-Trailer-", trailing)):
        for key, value in metadata or ():
            if key.startswith("grpc-") or key in _RESERVED or key == "content-type":
                continue
            text = base64.b64encode(value).decode() if isinstance(value, bytes) else value
            name = prefix + key
            headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers
