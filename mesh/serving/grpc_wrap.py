"""Rebuilding a gRPC method handler around a wrapped behaviour, for server interceptors.

grpc.aio interceptors only see the handler; to act inside the RPC (check a token, map errors,
time it) they must return a handler of the same kind whose behaviour is wrapped. That
plumbing lives here once.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeAlias

import grpc

# Strings: grpc.RpcMethodHandler is generic only in the type stubs, not at run time.
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"
# What a server interceptor's ``intercept_service`` is given to look up the next handler.
Continuation: TypeAlias = "Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]]"
Unary = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
Streaming = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]

_KINDS = (
    ("unary_unary", grpc.unary_unary_rpc_method_handler, False),
    ("unary_stream", grpc.unary_stream_rpc_method_handler, True),
    ("stream_unary", grpc.stream_unary_rpc_method_handler, False),
    ("stream_stream", grpc.stream_stream_rpc_method_handler, True),
)


def rewrap(
    handler: grpc.RpcMethodHandler[Any, Any],
    *,
    unary: Callable[[Unary], Unary],
    streaming: Callable[[Streaming], Streaming],
    request_deserializer: Callable[[bytes], Any] | None = None,
) -> grpc.RpcMethodHandler[Any, Any]:
    """The same kind of handler, its behaviour wrapped by ``unary`` or ``streaming``
    (by whether it answers with one message or a stream); its request deserializer replaced
    when ``request_deserializer`` is given."""
    for kind, factory, streams in _KINDS:
        behavior = getattr(handler, kind)
        if behavior is None:
            continue
        wrapped = streaming(_iterable(behavior)) if streams else unary(_awaitable(behavior))
        return factory(  # type: ignore[no-any-return]
            wrapped,
            request_deserializer=request_deserializer or handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """A server interceptor that acts inside each RPC by wrapping its handler's behaviour.

    Subclasses say how in ``wrap``; finding the handler (and passing on unknown methods)
    is done here once.
    """

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> Handler | None:
        handler = await continuation(handler_call_details)
        return None if handler is None else self.wrap(handler, handler_call_details.method)

    def wrap(self, handler: Handler, method: str) -> Handler:
        """The handler to run for ``method``: rebuilt with ``rewrap``, or ``handler`` to leave it alone."""
        raise NotImplementedError


def _awaitable(behavior: Callable[..., Any]) -> Unary:
    """A plain function returning a response (allowed by grpc.aio) as a coroutine function."""
    if inspect.iscoroutinefunction(behavior):
        return behavior

    async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
        result = behavior(request, context)
        return await result if inspect.isawaitable(result) else result

    return call


def _iterable(behavior: Callable[..., Any]) -> Streaming:
    """A response stream written with ``context.write`` (allowed by grpc.aio; grpcio-health-checking's
    Watch is one) as an async generator that yields nothing, so wrappers can ``async for`` over it."""
    if not inspect.iscoroutinefunction(behavior):
        return behavior

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await behavior(request, context)
        return
        yield  # pragma: no cover - makes this an async generator

    return stream
