"""TracedChannel: a CLIENT span per call, its context in the metadata, the status recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mesh.telemetry.grpc_client_tracing import TracedChannel
from testkit.wait import eventually

SAY = "/test.v1.Echo/Say"
REPEAT = "/test.v1.Echo/Repeat"


class Echo:
    """Answers with the traceparent it received; ``fail`` as the request fails NOT_FOUND."""

    def __init__(self) -> None:
        self.traceparents: list[str] = []

    def _traceparent(self, context: grpc.aio.ServicerContext) -> bytes:
        values = [str(v) for k, v in context.invocation_metadata() or () if k == "traceparent"]
        self.traceparents.extend(values)
        return ",".join(values).encode()  # two values would fail every traceparent check

    async def say(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        if request == b"fail":
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
        await context.send_initial_metadata((("x-seen", "yes"),))
        return self._traceparent(context)

    async def repeat(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        traceparent = self._traceparent(context)
        for _ in range(3):
            yield traceparent
        if request == b"fail":
            await context.abort(grpc.StatusCode.UNAVAILABLE, "went away")


@pytest.fixture
async def echo() -> AsyncIterator[tuple[str, Echo]]:
    servicer = Echo()
    server = grpc.aio.server()
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
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", servicer
    await server.stop(grace=None)


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def channel(echo: tuple[str, Echo], spans: InMemorySpanExporter) -> AsyncIterator[TracedChannel]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    address, _ = echo
    inner = grpc.aio.insecure_channel(address)
    yield TracedChannel(inner, address, tracer=provider.get_tracer("test"))
    await inner.close()


async def test_a_unary_call_is_a_client_span_whose_context_reaches_the_server(
    channel: TracedChannel, spans: InMemorySpanExporter, echo: tuple[str, Echo]
) -> None:
    call = channel.unary_unary(SAY)(b"hi", metadata=(("k", "v"),), timeout=5)
    reply = await call
    assert (await call.initial_metadata())["x-seen"] == "yes", "the grpc.aio call stays usable"
    (span,) = spans.get_finished_spans()
    assert span.kind is SpanKind.CLIENT
    assert span.name == "test.v1.Echo/Say"
    assert span.attributes is not None
    assert span.attributes["rpc.system"] == "grpc"
    assert span.attributes["rpc.service"] == "test.v1.Echo"
    assert span.attributes["rpc.method"] == "Say"
    assert span.attributes["rpc.grpc.status_code"] == 0
    assert span.attributes["server.port"] == int(echo[0].rsplit(":", 1)[1])
    assert reply.decode().startswith(f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-")


async def test_a_traceparent_already_in_the_metadata_is_replaced_by_the_call_span(
    channel: TracedChannel, spans: InMemorySpanExporter
) -> None:
    forwarded = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    reply = await channel.unary_unary(SAY)(b"hi", metadata=(("traceparent", forwarded),), timeout=5)
    (span,) = spans.get_finished_spans()
    assert reply.decode().split("-")[2] == f"{span.context.span_id:016x}"


async def test_a_failed_unary_call_records_its_status(channel: TracedChannel, spans: InMemorySpanExporter) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await channel.unary_unary(SAY)(b"fail", timeout=5)
    assert failure.value.code() is grpc.StatusCode.NOT_FOUND
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
    assert span.status.status_code is StatusCode.ERROR
    assert "NOT_FOUND" in (span.status.description or "")


async def test_a_stream_is_one_span_that_ends_with_the_stream(
    channel: TracedChannel, spans: InMemorySpanExporter
) -> None:
    call = channel.unary_stream(REPEAT)(b"ok", timeout=5)
    replies = []
    async for reply in call:
        assert not spans.get_finished_spans(), "the span lasts as long as the stream"
        replies.append(reply)
    (span,) = spans.get_finished_spans()
    assert len(replies) == 3
    assert replies[0].decode().split("-")[2] == f"{span.context.span_id:016x}"
    assert span.attributes is not None and span.attributes["rpc.grpc.status_code"] == 0


async def test_a_stream_that_fails_midway_records_its_status(
    channel: TracedChannel, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        async for _ in channel.unary_stream(REPEAT)(b"fail", timeout=5):
            pass
    (span,) = spans.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.UNAVAILABLE.value[0]
    assert span.status.status_code is StatusCode.ERROR


async def test_a_stream_the_caller_stops_reading_is_cancelled_and_an_error_on_the_client_span(
    channel: TracedChannel, spans: InMemorySpanExporter
) -> None:
    call = channel.unary_stream(REPEAT)(b"ok", timeout=5)
    async for _ in call:
        break
    call.cancel()

    async def finished() -> tuple[ReadableSpan, ...]:
        return spans.get_finished_spans()

    (span,) = await eventually(finished, timeout_s=5, what="the client span ended")
    assert span.attributes is not None
    assert span.attributes["rpc.grpc.status_code"] == grpc.StatusCode.CANCELLED.value[0]
    # Unlike a server span's, a client span's CANCELLED is an error (semantic conventions).
    assert span.status.status_code is StatusCode.ERROR
