"""SERVER spans for incoming gRPC calls: the server half of mesh.telemetry.grpc_client_tracing.

OpenTelemetry's grpc.aio server interceptor wraps every servicer context in a wrapt proxy,
copies the whole metadata into a dict twice, parses the peer and enters two generator-based
context managers per call; that was most of the cost of a traced RPC beyond the span itself.
This interceptor does the same job directly: the caller's W3C context taken from the
metadata, a SERVER span with the rpc.* semantic-convention attributes made current for the
handler (so handlers add ``order.id`` and child spans nest under it), and the gRPC status
recorded when the call ends (mesh.telemetry.grpc_status: aborts, client cancellation and
deadlines included); only the codes the semantic conventions call server failures mark the span
as an error. Every traced call answers with its trace id in the ``traceresponse`` trailing
metadata (mesh.telemetry.trace_response).

Health checks and reflection are not traced: probes every few seconds would bury the traces
operators look for.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from mesh.serving.grpc_wrap import Handler, Streaming, Unary, WrappingInterceptor, rewrap
from mesh.telemetry.grpc_client_tracing import rpc_span_identity
from mesh.telemetry.grpc_status import call_status, is_server_error
from mesh.telemetry.trace_response import TRACE_RESPONSE, trace_response

_UNTRACED_PREFIXES = ("/grpc.health.", "/grpc.reflection.")


class TracingServerInterceptor(WrappingInterceptor):
    def __init__(self, tracer: trace.Tracer | None = None) -> None:
        self._tracer = tracer or trace.get_tracer("oms.mesh.grpc.server")
        # grpc.aio asks for every call; a method's name and attributes are worked out once.
        self._methods: dict[str, _TracedMethod] = {}

    def wrap(self, handler: Handler, method: str) -> Handler:
        if method.startswith(_UNTRACED_PREFIXES):
            return handler
        traced = self._methods.get(method)
        if traced is None:
            traced = self._methods[method] = _TracedMethod(self._tracer, method)
        return rewrap(handler, unary=traced.unary, streaming=traced.streaming)


class _TracedMethod:
    def __init__(self, tracer: trace.Tracer, method: str) -> None:
        self._tracer = tracer
        self._name, self._attributes = rpc_span_identity(method)

    def _start(self, context: grpc.aio.ServicerContext) -> tuple[Span, object]:
        carrier = {key: value for key, value in context.invocation_metadata() or () if isinstance(value, str)}
        parent = propagate.extract(carrier)
        span = self._tracer.start_span(
            self._name, context=parent, kind=SpanKind.SERVER, attributes=_with_peer(self._attributes, context)
        )
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        answer = trace_response(span.get_span_context())
        if answer is not None:
            # Trailing metadata: the mesh's aborts keep it (mesh.serving.grpc_errors), so a
            # failed call carries it too.
            context.set_trailing_metadata(((TRACE_RESPONSE, answer),))
        return span, token

    def unary(self, behavior: Unary) -> Unary:
        async def traced(request: Any, context: grpc.aio.ServicerContext) -> Any:
            span, token = self._start(context)
            try:
                response = await behavior(request, context)
            except BaseException as exc:
                _end(span, context, exc)
                raise
            else:
                _end(span, context, None)
                return response
            finally:
                otel_context.detach(token)  # type: ignore[arg-type]

        return traced

    def streaming(self, behavior: Streaming) -> Streaming:
        async def traced(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            span, token = self._start(context)
            closed_elsewhere = False
            try:
                async for response in behavior(request, context):
                    yield response
            except GeneratorExit as exc:
                # gRPC stopped reading at a ``yield`` (the call was cancelled) and asyncio's
                # generator finalizer closes the stream in a task of its own: the attach belongs
                # to the call's finished task, and detaching here would only log an error.
                closed_elsewhere = True
                _end(span, context, exc)
                raise
            except BaseException as exc:
                _end(span, context, exc)
                raise
            else:
                _end(span, context, None)
            finally:
                if not closed_elsewhere:
                    otel_context.detach(token)  # type: ignore[arg-type]

        return traced


def _with_peer(attributes: dict[str, str], context: grpc.aio.ServicerContext) -> Mapping[str, str | int]:
    # "ipv4:127.0.0.1:53012" or "ipv6:[::1]:53012"; anything else (unix sockets) is left out.
    kind, _, rest = context.peer().partition(":")
    if kind not in ("ipv4", "ipv6"):
        return attributes  # the span copies what it is given: no need to copy it here
    host, _, port = rest.rpartition(":")
    return {**attributes, "network.peer.address": host.strip("[]"), "network.peer.port": int(port or 0)}


def _end(span: Span, context: grpc.aio.ServicerContext, error: BaseException | None) -> None:
    if span.is_recording():
        code = call_status(context, error)
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if is_server_error(code):
            details = context.details() if hasattr(context, "details") else None
            span.set_status(Status(StatusCode.ERROR, f"{code.name}: {details or type(error).__name__}"))
    span.end()
