"""TracingServerInterceptor: a SERVER span per call, child of the caller's, current in the handler."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mesh.telemetry.grpc_server_tracing import TracingServerInterceptor
from testkit.wait import eventually


async def one_finished(spans: InMemorySpanExporter) -> ReadableSpan:
    """The one server span, once it has ended: the client can see the status a moment before the
    server's interceptor ends the span, so waiting (with a deadline) is not optional."""
    finished = await eventually(
        lambda: _finished(spans), until=lambda found: len(found) >= 1, timeout_s=5, what="the server span ending"
    )
    assert len(finished) == 1, finished
    return finished[0]


async def _finished(spans: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    return tuple(spans.get_finished_spans())


TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"


class Echo:
    """Says what the current span is; ``missing`` → NOT_FOUND, ``bug`` → an exception."""

    def __init__(self) -> None:
        self.current: list[trace.SpanContext] = []

    async def say(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.current.append(trace.get_current_span().get_span_context())
        trace.get_current_span().set_attribute("order.id", request.decode())
        if request == b"missing":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")
        if request == b"bug":
            raise RuntimeError("a bug")
        return request

    async def repeat(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        for _ in range(3):
            yield request
        if request == b"gone":
            await context.abort(grpc.StatusCode.UNAVAILABLE, "went away")


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def served(spans: InMemorySpanExporter) -> AsyncIterator[tuple[grpc.aio.Channel, Echo]]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    servicer = Echo()
    server = grpc.aio.server(interceptors=[TracingServerInterceptor(provider.get_tracer("test"))])
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "test.v1.Echo",
                {
                    "Say": grpc.unary_unary_rpc_method_handler(servicer.say),
                    "Repeat": grpc.unary_stream_rpc_method_handler(servicer.repeat),
                },
            ),
        )
    )
    health_pb2_grpc.add_HealthServicer_to_server(HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield channel, servicer
    await channel.close()
    await server.stop(grace=None)


async def test_a_call_is_a_server_span_continuing_the_callers_trace(
    served: tuple[grpc.aio.Channel, Echo], spans: InMemorySpanExporter
) -> None:
    channel, servicer = served
    reply = await channel.unary_unary("/test.v1.Echo/Say")(b"o-1", metadata=(("traceparent", TRACEPARENT),))
    assert reply == b"o-1"
    span = await one_finished(spans)
    assert span.kind == SpanKind.SERVER
    assert span.name == "test.v1.Echo/Say"
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None and format(span.parent.span_id, "016x") == CALLER_SPAN_ID
    assert span.parent.is_remote
    attributes = dict(span.attributes or {})
    assert attributes["rpc.system"] == "grpc"
    assert attributes["rpc.service"] == "test.v1.Echo"
    assert attributes["rpc.method"] == "Say"
    assert attributes["rpc.grpc.status_code"] == 0
    assert attributes["network.peer.address"] == "127.0.0.1"
    assert isinstance(attributes["network.peer.port"], int)
    # The handler ran inside the span: what it adds lands on it.
    assert servicer.current == [span.context]
    assert attributes["order.id"] == "o-1"
    assert span.status.status_code == StatusCode.UNSET


async def test_a_call_without_traceparent_starts_a_trace(
    served: tuple[grpc.aio.Channel, Echo], spans: InMemorySpanExporter
) -> None:
    channel, _ = served
    await channel.unary_unary("/test.v1.Echo/Say")(b"o-2")
    span = await one_finished(spans)
    assert span.parent is None


@pytest.mark.parametrize(
    ("request_body", "code", "span_status"),
    [
        # Semantic conventions: NOT_FOUND is the caller's problem, not a failed server span.
        (b"missing", grpc.StatusCode.NOT_FOUND, StatusCode.UNSET),
        # An exception nobody mapped reaches the caller as UNKNOWN: the server failed.
        (b"bug", grpc.StatusCode.UNKNOWN, StatusCode.ERROR),
    ],
)
async def test_the_status_code_is_recorded_and_only_server_failures_are_errors(
    served: tuple[grpc.aio.Channel, Echo],
    spans: InMemorySpanExporter,
    request_body: bytes,
    code: grpc.StatusCode,
    span_status: StatusCode,
) -> None:
    channel, _ = served
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await channel.unary_unary("/test.v1.Echo/Say")(request_body)
    assert raised.value.code() == code
    span = await one_finished(spans)
    assert dict(span.attributes or {})["rpc.grpc.status_code"] == code.value[0]
    assert span.status.status_code == span_status


async def test_a_stream_span_ends_with_the_stream_and_its_status(
    served: tuple[grpc.aio.Channel, Echo], spans: InMemorySpanExporter
) -> None:
    channel, _ = served
    replies = [r async for r in channel.unary_stream("/test.v1.Echo/Repeat")(b"x")]
    assert replies == [b"x"] * 3
    ok = await one_finished(spans)
    assert dict(ok.attributes or {})["rpc.grpc.status_code"] == 0
    spans.clear()
    with pytest.raises(grpc.aio.AioRpcError):
        async for _ in channel.unary_stream("/test.v1.Echo/Repeat")(b"gone"):
            pass
    failed = await one_finished(spans)
    assert dict(failed.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]
    assert failed.status.status_code == StatusCode.ERROR


async def test_health_checks_are_not_traced(served: tuple[grpc.aio.Channel, Echo], spans: InMemorySpanExporter) -> None:
    channel, _ = served
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    await channel.unary_unary("/test.v1.Echo/Say")(b"after")
    assert [s.name for s in spans.get_finished_spans()] == ["test.v1.Echo/Say"]
