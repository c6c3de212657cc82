"""Every answer names its trace, and every INTERNAL incident is one ERROR line that leads to it.

A grpc.aio server with the mesh's tracing and error interceptors (as mesh.serving.server puts
them): the ``traceresponse`` trailing metadata on a good call, on a MeshError, on a bug's
INTERNAL and on an auth-style ``context.abort``; the incident id the caller reads is in an ERROR
record with the traceback (exc_info) and the trace id of the call; the text format prints them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mesh.serving.errors import NotFound
from mesh.serving.grpc_errors import ErrorInterceptor
from mesh.telemetry.grpc_server_tracing import TracingServerInterceptor
from mesh.telemetry.logs import TextFormatter
from mesh.telemetry.trace_response import TRACE_RESPONSE, parse_trace_response

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def _say(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    if request == b"missing":
        raise NotFound("no such order")
    if request == b"bug":
        raise RuntimeError("secret detail: SELECT * FROM orders")
    if request == b"refused":
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not yours")
    return request


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    server = grpc.aio.server(interceptors=[TracingServerInterceptor(provider.get_tracer("test")), ErrorInterceptor()])
    handler = grpc.method_handlers_generic_handler("test.v1.Echo", {"Say": grpc.unary_unary_rpc_method_handler(_say)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    opened = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield opened
    finally:
        await opened.close()
        await server.stop(grace=None)


async def _call(channel: grpc.aio.Channel, body: bytes) -> tuple[grpc.StatusCode, str, dict[str, str | bytes]]:
    say: grpc.aio.UnaryUnaryMultiCallable = channel.unary_unary("/test.v1.Echo/Say")
    call = say(body, metadata=(("traceparent", TRACEPARENT),))
    try:
        await call
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details() or "", dict(error.trailing_metadata() or ())
    return grpc.StatusCode.OK, "", dict(await call.trailing_metadata() or ())


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"fine", grpc.StatusCode.OK),
        (b"missing", grpc.StatusCode.NOT_FOUND),
        (b"bug", grpc.StatusCode.INTERNAL),
        (b"refused", grpc.StatusCode.PERMISSION_DENIED),
    ],
)
async def test_every_answer_carries_the_calls_trace_in_traceresponse(
    channel: grpc.aio.Channel, body: bytes, code: grpc.StatusCode
) -> None:
    got, _, trailing = await _call(channel, body)
    assert got == code
    value = trailing[TRACE_RESPONSE]
    assert isinstance(value, str)
    trace_id, span_id, sampled = parse_trace_response(value)
    assert trace_id == TRACE_ID and sampled
    assert span_id != "00f067aa0ba902b7", "the span id is the server's own span, not the caller's"
    if code not in (grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED):
        # The rich status detail is still there next to it.
        assert "grpc-status-details-bin" in trailing


async def test_an_internal_incident_is_one_error_line_with_traceback_and_trace_id(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="mesh.serving.grpc_errors"):
        code, details, trailing = await _call(channel, b"bug")
    assert code == grpc.StatusCode.INTERNAL
    assert "SELECT" not in details, "the bug's text stays in the log"
    incident = details.removeprefix("internal error (incident ").rstrip(")")
    [record] = [r for r in caplog.records if getattr(r, "incident", None) == incident]
    assert record.levelno == logging.ERROR
    assert incident in record.getMessage(), "grep-able in any log format"
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert record.__dict__["trace_id"] == TRACE_ID
    answered = trailing[TRACE_RESPONSE]
    assert isinstance(answered, str)
    assert record.__dict__["span_id"] == parse_trace_response(answered)[1], "the span the caller was told about"

    text = TextFormatter("order_svc").format(record)
    first, *traceback = text.splitlines()
    assert f"trace_id={TRACE_ID}" in first and f"incident={incident}" in first
    assert "Traceback (most recent call last)" in traceback[0]
    assert "RuntimeError: secret detail" in text


def test_parse_trace_response_refuses_what_is_not_one() -> None:
    assert parse_trace_response(f"00-{TRACE_ID}-00f067aa0ba902b7-00") == (TRACE_ID, "00f067aa0ba902b7", False)
    for bad in ("", "00-abc-def-01", f"01-{TRACE_ID}-00f067aa0ba902b7-01"):
        with pytest.raises(ValueError, match="not a traceresponse"):
            parse_trace_response(bad)
