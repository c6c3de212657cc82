"""The SDK's OTLP/gRPC span exporter with the fast encoder of mesh.telemetry.otlp_encoding.

Everything but the encoding stays the SDK's own: endpoint, headers, TLS, compression,
timeouts and retries from the standard ``OTEL_EXPORTER_OTLP_*`` variables. The gRPC stub
serializes a message object, so the bytes are parsed back into one: ~0.7 µs per span in
protobuf's C code, against ~25 µs saved by not building that message span by span in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan

from mesh.telemetry.otlp_encoding import SpanEncoder


class FastEncodingGrpcSpanExporter(OTLPSpanExporter):
    def __init__(self) -> None:
        super().__init__()
        self._encoder = SpanEncoder()

    # The mixin's hook for "spans → request message" (the SDK's own subclass overrides it too).
    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        return ExportTraceServiceRequest.FromString(self._encoder.encode(data))
