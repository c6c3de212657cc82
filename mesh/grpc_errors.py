"""Maps MeshError to a rich ``google.rpc.Status`` (one place for every service)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from mesh.errors import (
    ERROR_DOMAIN,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    MeshError,
    ResourceExhausted,
    Unavailable,
)
from mesh.grpc_wrap import Handler, WrappingInterceptor, rewrap
from mesh.request_checks import nul_violations
from mesh.retry import is_transient

log = logging.getLogger(__name__)


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
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
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
    """A bug as the caller sees it: INTERNAL with an id to quote; the log has ``exc`` under that id."""
    incident = uuid.uuid4().hex[:12]
    log.error("unexpected error", exc_info=exc, extra={"incident": incident})
    return Internal(f"internal error (incident {incident})")


def _wrap_unary(behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            _check_request(request)
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a status; bugs are logged
            await context.abort_with_status(rpc_status.to_status(to_status(as_mesh_error(exc))))

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
            await context.abort_with_status(rpc_status.to_status(to_status(as_mesh_error(exc))))

    return wrapped


def _check_request(request: Any) -> None:
    if isinstance(request, Message):
        violations = nul_violations(request)
        if violations:
            raise InvalidArgument(violations)
