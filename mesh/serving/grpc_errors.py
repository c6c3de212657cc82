"""Maps MeshError to a rich ``google.rpc.Status`` (one place for every service)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from mesh.resilience.retry import is_transient
from mesh.serving.errors import (
    ERROR_DOMAIN,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    MeshError,
    ResourceExhausted,
    Unavailable,
)
from mesh.serving.grpc_wrap import Handler, WrappingInterceptor, rewrap
from mesh.serving.request_checks import request_violations
from mesh.telemetry.logs import log_context
from mesh.values.violations import FieldViolation

log = logging.getLogger(__name__)

# The status travels in a trailer of bounded size (8 KiB by default): a request with hundreds of
# bad fields gets the first of them listed, and a count of the rest.
MAX_LISTED_VIOLATIONS = 20


def to_status(error: MeshError) -> status_pb2.Status:
    packed = []
    for detail in details_of(error):
        holder = any_pb2.Any()
        holder.Pack(detail)
        packed.append(holder)
    return status_pb2.Status(code=_CODE[error.code], message=error.message, details=packed)


def details_of(error: MeshError) -> list[Message]:
    """The ``google.rpc`` detail messages of ``error``: ErrorInfo first, then its own kind's."""
    details: list[Message] = [
        error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    ]
    if isinstance(error, InvalidArgument):
        listed = error.violations[:MAX_LISTED_VIOLATIONS]
        if len(error.violations) > len(listed):
            listed.append(FieldViolation("", f"and {len(error.violations) - len(listed)} more violations"))
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in listed
                ]
            )
        )
    if isinstance(error, FailedPrecondition) and error.violations:
        details.append(
            error_details_pb2.PreconditionFailure(
                violations=[
                    error_details_pb2.PreconditionFailure.Violation(
                        type=v.type, subject=v.subject, description=v.description
                    )
                    for v in error.violations
                ]
            )
        )
    if isinstance(error, ResourceExhausted):
        if error.violations:
            details.append(
                error_details_pb2.QuotaFailure(
                    violations=[
                        error_details_pb2.QuotaFailure.Violation(subject=v.subject, description=v.description)
                        for v in error.violations
                    ]
                )
            )
        if error.retry_after_s is not None:
            delay = duration_pb2.Duration()
            delay.FromTimedelta(timedelta(seconds=error.retry_after_s))
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    return details


_CODE = {code: getattr(code_pb2, code.name) for code in grpc.StatusCode}


async def abort_with(context: grpc.aio.ServicerContext, status: status_pb2.Status) -> None:
    """Ends the call with ``status``, keeping the trailing metadata already set on the call.

    ``abort_with_status`` would replace it with the status detail alone, and with it the
    ``traceresponse`` the tracing interceptor set (mesh.telemetry.trace_response).
    """
    rich = rpc_status.to_status(status)
    kept = tuple(context.trailing_metadata() or ())
    await context.abort(rich.code, rich.details, (*kept, *rich.trailing_metadata))


class UndecodableRequestInterceptor(WrappingInterceptor):
    """Bytes that are not the request message are INVALID_ARGUMENT, not UNKNOWN.

    grpc.aio answers UNKNOWN (with the decoder's text) when a request deserializer raises. The
    deserializer is wrapped to return an ``Undecodable`` marker instead, and the behaviour
    answers it before anything else reads the request. Placed outside the interceptors that
    read requests (authorization), inside tracing and metrics so such calls are still seen.
    """

    def wrap(self, handler: Handler, method: str) -> Handler:
        decode = handler.request_deserializer
        if decode is None or handler.request_streaming:
            return handler  # a client stream (server reflection) keeps gRPC's own handling
        return rewrap(
            handler,
            unary=_refuse_undecodable_unary,
            streaming=_refuse_undecodable_stream,
            request_deserializer=_tolerant(decode, method),
        )


@dataclass(frozen=True)
class Undecodable:
    """Stands for a request whose bytes did not decode; ``method`` is the RPC it was sent to."""

    method: str

    def error(self) -> InvalidArgument:
        violation = FieldViolation("", "the request bytes are not a valid protobuf encoding of the request message")
        error = InvalidArgument([violation], message="the request could not be decoded", reason="UNDECODABLE_REQUEST")
        error.metadata["method"] = self.method
        return error


def _tolerant(decode: Callable[[bytes], Any], method: str) -> Callable[[bytes], Any]:
    def tolerant(raw: bytes) -> Any:
        try:
            return decode(raw)
        except Exception:  # noqa: BLE001 - whatever the decoder says, the bytes were the caller's
            return Undecodable(method)

    return tolerant


def _refuse_undecodable_unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def refusing(request: Any, context: grpc.aio.ServicerContext) -> Any:
        if isinstance(request, Undecodable):
            await abort_with(context, to_status(request.error()))
        return await behavior(request, context)

    return refusing


def _refuse_undecodable_stream(behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    async def refusing(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        if isinstance(request, Undecodable):
            await abort_with(context, to_status(request.error()))
        async for item in behavior(request, context):
            yield item

    return refusing


class ErrorInterceptor(WrappingInterceptor):
    """Turns a MeshError raised by a handler into its status; logs anything unexpected."""

    def wrap(self, handler: Handler, method: str) -> Handler:
        return rewrap(handler, unary=_wrap_unary, streaming=_wrap_stream)


def as_mesh_error(exc: Exception) -> MeshError:
    """The error to report for ``exc``. A bug becomes a bare INTERNAL: its text (which may hold
    SQL, parameters or paths) goes to the log under an id the caller can quote, never to them."""
    if isinstance(exc, MeshError):
        return exc
    if is_transient(exc):
        # The database (or another dependency) is briefly away: tell the caller to retry.
        log.warning("dependency unavailable", extra={"error": repr(exc)})
        return Unavailable("a dependency is briefly unavailable; retry shortly")
    return incident_error(exc)


def incident_error(exc: Exception) -> Internal:
    """A bug as the caller sees it: INTERNAL with an id to quote. The log has one ERROR line
    with that id (in the text too, for a grep), the traceback, and the trace and order ids
    on the record itself, so any handler shows them and the operator finds the trace."""
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error (incident %s)", incident, exc_info=exc, extra={"incident": incident, **log_context()})
    return Internal(f"internal error (incident {incident})")


def _wrap_unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            _check_request(request)
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status; bugs are logged
            await abort_with(context, to_status(as_mesh_error(exc)))

    return wrapped


def _wrap_stream(behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            _check_request(request)
            async for item in behavior(request, context):
                yield item
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status; bugs are logged
            await abort_with(context, to_status(as_mesh_error(exc)))

    return wrapped


def _check_request(request: Any) -> None:
    if isinstance(request, Message):
        violations = request_violations(request)
        if violations:
            raise InvalidArgument(violations)
