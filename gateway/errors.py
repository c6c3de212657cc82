"""gRPC status → HTTP status and the ``google.rpc.Status`` JSON body, in one place.

The mapping follows grpc-gateway's runtime/errors.go, including FAILED_PRECONDITION → 400
(not 412): a precondition of the *system state* failed, which HTTP has no better code for.
A status with a ``google.rpc.RetryInfo`` detail (RESOURCE_EXHAUSTED: too many open streams)
also gets a ``Retry-After`` header.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2
from starlette.responses import Response

HTTP_STATUS: Mapping[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}

STATUS_DETAILS_KEY = "grpc-status-details-bin"
NDJSON = "application/x-ndjson"


def code_number(code: grpc.StatusCode) -> int:
    return int(code.value[0])


class HttpError(Exception):
    """An error the gateway answers itself, in the same Status shape as upstream errors."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        details: Sequence[Message] = (),
        headers: Mapping[str, str] | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = make_status(code, message, details)
        self.headers = dict(headers or {})
        self.http_status = http_status or HTTP_STATUS.get(code, 500)
        # Answered as one NDJSON ``{"error": …}`` line (an NDJSON stream's refusal).
        self.stream_framed = False

    def response(self, *, emit_unpopulated: bool = True, ndjson: bool = False) -> Response:
        """``emit_unpopulated``: the gateway's setting (its default is the setting's default)."""
        return status_response(
            self.status, self.http_status, self.headers, emit_unpopulated=emit_unpopulated, ndjson=ndjson
        )


def bad_request(message: str, field: str | None = None, description: str | None = None) -> HttpError:
    """INVALID_ARGUMENT/400; names the field at fault with a BadRequest detail when known."""
    details: list[Message] = []
    if field:
        violation = error_details_pb2.BadRequest.FieldViolation(field=field, description=description or message)
        details.append(error_details_pb2.BadRequest(field_violations=[violation]))
    return HttpError(grpc.StatusCode.INVALID_ARGUMENT, message, details)


def make_status(code: grpc.StatusCode, message: str, details: Sequence[Message] = ()) -> status_pb2.Status:
    packed = []
    for detail in details:
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(code=code_number(code), message=message, details=packed)


def status_of(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    """The rich status from the ``grpc-status-details-bin`` trailer, else code and message."""
    code, message = error.code(), error.details() or ""
    for key, value in error.trailing_metadata() or ():
        if key != STATUS_DETAILS_KEY or not isinstance(value, bytes):
            continue
        try:
            rich = status_pb2.Status.FromString(value)
        except DecodeError:
            break
        # A detail trailer that disagrees with the real status is stale or forged: ignore it.
        if rich.code == code_number(code):
            if not rich.message:
                rich.message = message
            return rich
    return make_status(code, message)


def grpc_code(status: status_pb2.Status) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code_number(code) == status.code:
            return code
    return grpc.StatusCode.UNKNOWN


def status_dict(status: status_pb2.Status, *, emit_unpopulated: bool) -> dict[str, Any]:
    """proto3 JSON of the Status; details of a type this process does not know stay readable.

    Details follow ``OMS_GATEWAY_EMIT_UNPOPULATED`` like every message the gateway prints
    (grpc-gateway marshals the Status, details included, with the same options).
    """
    return {
        "code": status.code,
        "message": status.message,
        "details": [_any_dict(detail, emit_unpopulated) for detail in status.details],
    }


def _any_dict(detail: any_pb2.Any, emit_unpopulated: bool) -> dict[str, Any]:
    try:
        return dict(json_format.MessageToDict(detail, always_print_fields_with_no_presence=emit_unpopulated))
    except (TypeError, KeyError, json_format.Error):
        return {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode()}


def stream_error_line(status: status_pb2.Status, *, emit_unpopulated: bool) -> bytes:
    """One NDJSON line of grpc-gateway's stream framing for an error: ``{"error": Status}``."""
    document = {"error": status_dict(status, emit_unpopulated=emit_unpopulated)}
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _retry_after(status: status_pb2.Status) -> str | None:
    """Whole seconds of the status's RetryInfo detail (RFC 9110 Retry-After), if it has one."""
    for detail in status.details:
        info = error_details_pb2.RetryInfo()
        if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
            return str(max(0, math.ceil(info.retry_delay.ToTimedelta().total_seconds())))
    return None


def status_response(
    status: status_pb2.Status,
    http_status: int | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    emit_unpopulated: bool = True,
    ndjson: bool = False,
) -> Response:
    """The error answer: the Status JSON, or (``ndjson``: a stream route asked for NDJSON) the
    one line ``{"error": Status}``, grpc-gateway's framing of an error before any message."""
    code = grpc_code(status)
    extra = dict(headers or {})
    if code == grpc.StatusCode.UNAUTHENTICATED:
        extra.setdefault("WWW-Authenticate", 'Bearer realm="oms"')
    if (retry_after := _retry_after(status)) is not None:
        extra.setdefault("Retry-After", retry_after)
    if ndjson:
        body = stream_error_line(status, emit_unpopulated=emit_unpopulated)
        media_type = NDJSON
    else:
        body = json.dumps(
            status_dict(status, emit_unpopulated=emit_unpopulated), separators=(",", ":"), ensure_ascii=False
        ).encode()
        media_type = "application/json"
    return Response(
        body,
        status_code=http_status or HTTP_STATUS.get(code, 500),
        headers=extra,
        media_type=media_type,
    )
