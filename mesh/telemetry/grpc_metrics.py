"""RED metrics per RPC (rate, errors, duration) for every gRPC server of the mesh.

The ``code`` label is the status the call ended with (mesh.telemetry.grpc_status): a stream the
client stops watching is CANCELLED, a passed deadline DEADLINE_EXCEEDED, an unmapped exception
UNKNOWN.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from mesh.serving.grpc_wrap import Handler, WrappingInterceptor, rewrap
from mesh.telemetry.grpc_status import call_status

RPC_REQUESTS = Counter("oms_grpc_requests", "RPCs handled", ["service", "method", "code"])
RPC_DURATION = Histogram(
    "oms_grpc_request_duration_seconds",
    "Time to handle an RPC (for streams: until the stream ended)",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class MetricsInterceptor(WrappingInterceptor):
    def __init__(self, service: str) -> None:
        self._service = service

    def wrap(self, handler: Handler, method: str) -> Handler:
        if method.startswith("/grpc.reflection."):
            return handler
        return rewrap(
            handler,
            unary=lambda behavior: self._unary(method, behavior),
            streaming=lambda behavior: self._stream(method, behavior),
        )

    def _record(
        self, method: str, context: grpc.aio.ServicerContext, started: float, error: BaseException | None
    ) -> None:
        code = call_status(context, error)
        RPC_REQUESTS.labels(self._service, method, code.name).inc()
        RPC_DURATION.labels(self._service, method).observe(time.perf_counter() - started)

    def _unary(self, method: str, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def measured(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                result = await behavior(request, context)
            except BaseException as error:  # recorded, then raised on unchanged
                self._record(method, context, started, error)
                raise
            self._record(method, context, started, None)
            return result

        return measured

    def _stream(self, method: str, behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def measured(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            try:
                async for item in behavior(request, context):
                    yield item
            except BaseException as error:  # a client that cancels: CancelledError
                self._record(method, context, started, error)
                raise
            self._record(method, context, started, None)

        return measured
