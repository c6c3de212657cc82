"""How a server call's end is counted (oms_grpc_requests_total) and traced (span status).

OpenTelemetry's RPC conventions: on a server only UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
INTERNAL, UNAVAILABLE and DATA_LOSS are errors. A client that stops watching a stream is a
normal end: CANCELLED in the metrics, no error on the span.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from mesh.serving.grpc_errors import ErrorInterceptor
from mesh.telemetry.grpc_metrics import RPC_REQUESTS, MetricsInterceptor
from mesh.telemetry.grpc_server_tracing import TracingServerInterceptor
from mesh.telemetry.grpc_status import SERVER_ERROR_CODES
from testkit.wait import eventually

SERVICE = "test.v1.Watcher"


class Watcher:
    """``Watch`` waits between updates (as WatchOrder does); ``Flood`` never waits, so a cancel
    finds it at ``yield`` while gRPC sends; ``Wait`` never answers; ``Fail`` raises what nobody mapped."""

    def __init__(self) -> None:
        self.waiting = asyncio.Event()

    async def watch(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        while True:
            yield request
            await asyncio.sleep(0.02)

    async def flood(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        while True:
            yield request * 100_000

    async def wait(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.waiting.set()
        await asyncio.sleep(30)
        return request

    async def fail(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise RuntimeError("a bug")


@dataclass
class Served:
    channel: grpc.aio.Channel
    spans: InMemorySpanExporter
    watcher: Watcher
    service: str  # the metrics' service label, unique per test

    def count(self, method: str, code: str) -> float:
        value = RPC_REQUESTS.labels(self.service, f"/{SERVICE}/{method}", code)._value.get()
        return float(value)

    async def ended(self, method: str) -> ReadableSpan:
        """The span of the one call to ``method``, once the server has ended it."""
        name = f"{SERVICE}/{method}"
        spans = await eventually(
            lambda: _finished(self.spans, name), until=lambda found: len(found) == 1, timeout_s=5, what=name
        )
        return spans[0]


async def _finished(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in spans.get_finished_spans() if s.name == name]


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    label = f"codes-{uuid.uuid4().hex[:8]}"
    watcher = Watcher()
    # The production order (mesh.serving.server): tracing, metrics, …, error mapping.
    server = grpc.aio.server(
        interceptors=[
            TracingServerInterceptor(provider.get_tracer("test")),
            MetricsInterceptor(label),
            ErrorInterceptor(),
        ]
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                SERVICE,
                {
                    "Watch": grpc.unary_stream_rpc_method_handler(watcher.watch),
                    "Flood": grpc.unary_stream_rpc_method_handler(watcher.flood),
                    "Wait": grpc.unary_unary_rpc_method_handler(watcher.wait),
                    "Fail": grpc.unary_unary_rpc_method_handler(watcher.fail),
                },
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Served(channel, spans, watcher, label)
    finally:
        await server.stop(grace=None)


@pytest.mark.parametrize("method", ["Watch", "Flood"])
async def test_a_stream_the_client_cancels_is_counted_cancelled_and_is_no_span_error(
    served: Served, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    call = served.channel.unary_stream(f"/{SERVICE}/{method}")(b"o-1")
    async for _ in call:
        break  # the client has seen enough and goes away
    call.cancel()
    span = await served.ended(method)
    assert served.count(method, "CANCELLED") == 1
    assert served.count(method, "UNKNOWN") == 0
    assert dict(span.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    assert span.status.status_code == StatusCode.UNSET
    # A normal end logs nothing at ERROR (OpenTelemetry's "Failed to detach context" included).
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_unary_call_the_client_cancels_is_counted_cancelled(served: Served) -> None:
    call = served.channel.unary_unary(f"/{SERVICE}/Wait")(b"o-2")
    await asyncio.wait_for(served.watcher.waiting.wait(), timeout=5)  # a server call to cancel
    call.cancel()
    span = await served.ended("Wait")
    assert served.count("Wait", "CANCELLED") == 1
    assert span.status.status_code == StatusCode.UNSET


async def test_a_passed_deadline_is_deadline_exceeded_and_a_server_error(served: Served) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        async for _ in served.channel.unary_stream(f"/{SERVICE}/Watch")(b"o-3", timeout=0.2):
            pass
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    span = await served.ended("Watch")
    assert served.count("Watch", "DEADLINE_EXCEEDED") == 1
    assert span.status.status_code == StatusCode.ERROR


async def test_an_unmapped_exception_is_a_server_error_on_the_span_and_in_the_metrics(served: Served) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await served.channel.unary_unary(f"/{SERVICE}/Fail")(b"o-4", timeout=5)
    assert raised.value.code() == grpc.StatusCode.INTERNAL  # mapped (with an incident id) by ErrorInterceptor
    span = await served.ended("Fail")
    assert served.count("Fail", "INTERNAL") == 1
    assert span.status.status_code == StatusCode.ERROR


def test_the_server_error_codes_are_exactly_the_semantic_conventions_list() -> None:
    assert {code.name for code in SERVER_ERROR_CODES} == {
        "UNKNOWN",
        "DEADLINE_EXCEEDED",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
    }
