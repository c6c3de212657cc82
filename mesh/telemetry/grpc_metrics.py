"""RED metrics per RPC (rate, errors, duration) for every gRPC server of the mesh."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

from mesh.serving.grpc_wrap import Handler, WrappingInterceptor, rewrap

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

    def _record(self, method: str, context: grpc.aio.ServicerContext, started: float, failed: bool) -> None:
        code = context.code() if hasattr(context, "code") else None
        if code is None:
            code = grpc.StatusCode.UNKNOWN if failed else grpc.StatusCode.OK
        name = code.name if isinstance(code, grpc.StatusCode) else str(code)
        RPC_REQUESTS.labels(self._service, method, name).inc()
        RPC_DURATION.labels(self._service, method).observe(time.perf_counter() - started)

    def _unary(self, method: str, behavior: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def measured(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started, failed = time.perf_counter(), True
            try:
                result = await behavior(request, context)
                failed = False
                return result
            finally:
                self._record(method, context, started, failed)

        return measured

    def _stream(self, method: str, behavior: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
        async def measured(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started, failed = time.perf_counter(), True
            try:
                async for item in behavior(request, context):
                    yield item
                failed = False
            finally:
                self._record(method, context, started, failed)

        return measured
