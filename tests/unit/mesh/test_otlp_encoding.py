"""SpanEncoder writes the same ExportTraceServiceRequest as the SDK's encoder, byte for meaning."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.span import TraceState

from mesh.telemetry.otlp_encoding import SpanEncoder

REMOTE = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
    trace_state=TraceState([("vendor", "value"), ("other", "x")]),
)


def _spans(resource: Resource | None = None) -> tuple[ReadableSpan, ...]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource or Resource.create({"service.name": "order_svc", "pid": 42}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    rpc = provider.get_tracer("oms.mesh.grpc.server", "1.0", schema_url="https://opentelemetry.io/schemas/1.26.0")
    db = provider.get_tracer("oms.mesh.db", attributes={"scope.kind": "db"})
    with rpc.start_as_current_span(
        "oms.order.v1.OrderService/PlaceOrder",
        context=set_span_in_context(NonRecordingSpan(REMOTE)),
        kind=SpanKind.SERVER,
        attributes={"rpc.system": "grpc", "rpc.grpc.status_code": 0, "network.peer.port": 53012},
    ) as server:
        server.set_attribute("order.id", "o-1")
        server.add_event("retry", {"attempt": 2, "fatal": False, "delay_s": 0.25})
        with db.start_as_current_span("transaction t_order", attributes={"db.system": "postgresql"}) as tx:
            tx.set_attribute("db.transaction.outcome", "commit")
            tx.set_attribute("tags", ("a", "b"))
            tx.set_attribute("counts", [1, -2, 3])
            tx.set_attribute("ratios", [0.5, 1.5])
            tx.set_attribute("flags", [True, False])
            tx.set_attribute("negative", -7)
            tx.set_attribute("big", 2**62)
            tx.set_attribute("empty", "")
            tx.set_attribute("unicode", "naïve ✓")
        consumer = rpc.start_span(
            "process orders",
            kind=SpanKind.CONSUMER,
            links=[Link(REMOTE, {"messaging.link": True}), Link(tx.get_span_context())],
        )
        consumer.set_status(Status(StatusCode.ERROR, "poison message"))
        consumer.end()
        server.set_status(Status(StatusCode.OK))
    for kind in (SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.INTERNAL):
        with rpc.start_as_current_span(f"kind {kind.name}", kind=kind, attributes={"long": "x" * 300}):
            pass
    return exporter.get_finished_spans()


def _ours(spans: tuple[ReadableSpan, ...], encoder: SpanEncoder | None = None) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString((encoder or SpanEncoder()).encode(spans))


def test_spans_of_every_shape_encode_as_the_sdk_does() -> None:
    spans = _spans()
    assert len(spans) == 6
    assert _ours(spans) == encode_spans(spans)


def test_the_caches_change_nothing_when_an_encoder_is_reused() -> None:
    encoder = SpanEncoder()
    for _ in range(3):
        spans = _spans()
        assert _ours(spans, encoder) == encode_spans(spans)


def test_equal_python_values_of_other_types_stay_apart() -> None:
    """True == 1 == 1.0 in Python; a cache keyed on the value alone would send the wrong type."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    for value in (True, 1, 1.0):
        with tracer.start_as_current_span("s", attributes={"k": value}):
            pass
    spans = exporter.get_finished_spans()
    request = _ours(spans)
    values = [s.attributes[0].value for s in request.resource_spans[0].scope_spans[0].spans]
    assert [v.WhichOneof("value") for v in values] == ["bool_value", "int_value", "double_value"]
    assert request == encode_spans(spans)


def test_spans_of_two_resources_are_grouped_per_resource() -> None:
    spans = _spans(Resource.create({"service.name": "a"})) + _spans(Resource.create({"service.name": "b"}))
    request = _ours(spans)
    assert len(request.resource_spans) == 2
    assert request == encode_spans(spans)


def test_an_empty_batch_is_an_empty_request() -> None:
    assert SpanEncoder().encode(()) == b""


def test_the_grpc_exporter_sends_our_encoding_through_the_sdks_hook() -> None:
    """If the SDK renamed its hook, our override would silently stop being used."""
    from opentelemetry.exporter.otlp.proto.grpc.exporter import OTLPExporterMixin

    from mesh.telemetry.otlp_export import FastEncodingGrpcSpanExporter

    assert "_translate_data" in OTLPExporterMixin.__abstractmethods__
    exporter = FastEncodingGrpcSpanExporter()
    try:
        spans = _spans()
        assert exporter._translate_data(spans) == encode_spans(spans)
    finally:
        exporter.shutdown()
