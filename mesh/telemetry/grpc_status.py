"""The gRPC status a server call ended with, as metrics and traces record it.

One reading for both, so ``oms_grpc_requests_total{code=…}`` and the span's
``rpc.grpc.status_code`` never disagree. grpc.aio tells the handler little: a code set by
``abort``/``set_code`` is on the context; a caller that cancels (or whose deadline passes)
shows up only as an exception thrown into the handler with no code on the context:
``asyncio.CancelledError`` where the handler was awaiting, or ``GeneratorExit`` where a
response stream sat at ``yield`` while gRPC was sending (it closes the stream it stopped
reading). An exception nobody mapped reaches the caller as UNKNOWN.
"""

from __future__ import annotations

import asyncio

import grpc

# OpenTelemetry RPC semantic conventions: for a server, only these codes mean the server
# failed. The others (CANCELLED, NOT_FOUND, INVALID_ARGUMENT, RESOURCE_EXHAUSTED …) are the
# caller's doing or an answer about its request: the span status stays unset.
SERVER_ERROR_CODES = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)

_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def call_status(context: grpc.aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The code the call ended with; ``error`` is what the handler raised (None: it returned)."""
    code = _code_on(context)
    if code is not None:
        return code
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        # The call was cancelled under the handler: by its deadline if that has passed,
        # otherwise by the caller (a client that stops watching a stream is a normal end).
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


def is_server_error(code: grpc.StatusCode) -> bool:
    return code in SERVER_ERROR_CODES


def _code_on(context: grpc.aio.ServicerContext) -> grpc.StatusCode | None:
    code = context.code() if hasattr(context, "code") else None
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):
        return _BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)
    return None
