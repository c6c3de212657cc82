"""CLIENT spans for outgoing gRPC calls, made by wrapping the channel instead of an interceptor.

OpenTelemetry's grpc.aio client interceptor costs ~170 µs of CPU and ~220 µs of latency per
call here (measured against an empty handler: 280 → 450 µs CPU), mostly grpc.aio's interceptor
machinery (an intercepted call object and an extra task per call). The gateway makes one such
call per HTTP request and order_svc one or two per PlaceOrder, so that was a large share of
the gateway's added latency. ``TracedChannel`` does the same job directly: a CLIENT span per
call with the rpc.* semantic-convention attributes, its context injected into the call's
metadata (W3C traceparent) so the server's span is its child, the status code recorded when
the call ends. The call object returned is grpc.aio's own, awaited or iterated through a thin
proxy, so callers keep ``initial_metadata()``, ``trailing_metadata()``, ``cancel()`` etc.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator, Sequence
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

_tracer = trace.get_tracer("oms.mesh.grpc.client")
_OK = grpc.StatusCode.OK.value[0]


class TracedChannel:
    """A ``grpc.aio.Channel`` whose unary-unary and unary-stream calls are traced.

    Everything else (``close``, ``channel_ready``, ``get_state`` …) is the wrapped channel's.
    """

    def __init__(self, channel: grpc.aio.Channel, target: str, *, tracer: trace.Tracer | None = None) -> None:
        self._channel = channel
        self._tracer = tracer or _tracer
        host, _, port = target.rpartition(":")
        self._peer: dict[str, str | int] = {"server.address": host or target}
        if port.isdigit():
            self._peer["server.port"] = int(port)

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> _TracedUnaryUnary:
        return _TracedUnaryUnary(self._channel.unary_unary(method, *args, **kwargs), method, self._peer, self._tracer)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> _TracedUnaryStream:
        return _TracedUnaryStream(self._channel.unary_stream(method, *args, **kwargs), method, self._peer, self._tracer)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._channel, name)


def traced_insecure_channel(target: str, *, options: Sequence[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
    """``grpc.aio.insecure_channel`` whose calls are CLIENT spans (typed as a channel for stubs)."""
    return TracedChannel(grpc.aio.insecure_channel(target, options=options), target)  # type: ignore[return-value]


def traced_secure_channel(
    target: str, credentials: grpc.ChannelCredentials, *, options: Sequence[tuple[str, Any]] | None = None
) -> grpc.aio.Channel:
    """``grpc.aio.secure_channel`` whose calls are CLIENT spans (typed as a channel for stubs)."""
    channel = grpc.aio.secure_channel(target, credentials, options=options)
    return TracedChannel(channel, target)  # type: ignore[return-value]


def rpc_span_identity(method: str) -> tuple[str, dict[str, str]]:
    """Span name and rpc.* attributes of a gRPC method path (``/pkg.Service/Method``), per the
    semantic conventions; client and server spans of one call get the same."""
    service, _, name = method.lstrip("/").rpartition("/")
    return f"{service}/{name}", {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


class _TracedMultiCallable:
    def __init__(self, inner: Any, method: str, peer: dict[str, str | int], tracer: trace.Tracer) -> None:
        self._inner = inner
        self._tracer = tracer
        self._name, rpc = rpc_span_identity(method)
        self._attributes: dict[str, str | int] = {**rpc, **peer}

    def _start(self, metadata: Any) -> tuple[Span, tuple[tuple[str, str | bytes], ...]]:
        span = self._tracer.start_span(self._name, kind=SpanKind.CLIENT, attributes=self._attributes)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        # The caller's own traceparent (e.g. forwarded from an HTTP request) is replaced, not
        # repeated: a server reading the first of two values would skip this span.
        kept = [(key, value) for key, value in metadata or () if key not in carrier]
        return span, (*kept, *carrier.items())


class _TracedUnaryUnary(_TracedMultiCallable):
    def __call__(self, request: Any, *, metadata: Any = None, **kwargs: Any) -> _TracedUnaryCall:
        span, metadata = self._start(metadata)
        try:
            call = self._inner(request, metadata=metadata, **kwargs)
        except BaseException as exc:
            _end(span, error=exc)
            raise
        return _TracedUnaryCall(call, span)


class _TracedUnaryStream(_TracedMultiCallable):
    def __call__(self, request: Any, *, metadata: Any = None, **kwargs: Any) -> _TracedStreamCall:
        span, metadata = self._start(metadata)
        try:
            call = self._inner(request, metadata=metadata, **kwargs)
        except BaseException as exc:
            _end(span, error=exc)
            raise
        return _TracedStreamCall(call, span)


class _TracedUnaryCall:
    """Awaiting it awaits the grpc.aio call and ends the span with the call's status."""

    def __init__(self, call: Any, span: Span) -> None:
        self._call = call
        self._span = span

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            response = yield from self._call.__await__()
        except BaseException as exc:
            _end(self._span, error=exc)
            raise
        _end(self._span)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


class _TracedStreamCall:
    """Iterating it iterates the grpc.aio call; the span ends with the stream (or its cancel)."""

    def __init__(self, call: Any, span: Span) -> None:
        self._call = call
        self._span = span

    async def _messages(self) -> AsyncIterator[Any]:
        try:
            async for message in self._call:
                yield message
        except BaseException as exc:
            _end(self._span, error=exc)
            raise
        _end(self._span)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._messages()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._call, name)


def _end(span: Span, *, error: BaseException | None = None) -> None:
    if not span.is_recording():
        span.end()
        return
    if error is None:
        span.set_attribute("rpc.grpc.status_code", _OK)
    elif isinstance(error, grpc.aio.AioRpcError):
        code = error.code()
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        span.set_status(Status(StatusCode.ERROR, f"{code.name}: {error.details()}"))
    else:
        # Cancelled by our side (a deadline of the caller's own, a client gone) or a local error.
        # On a client span every code but OK is an error (semantic conventions), a cancel too;
        # GeneratorExit: the caller stopped reading the stream (the call is cancelled with it).
        if isinstance(error, asyncio.CancelledError | GeneratorExit):
            span.set_attribute("rpc.grpc.status_code", grpc.StatusCode.CANCELLED.value[0])
        span.set_attribute("error.type", type(error).__name__)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()
