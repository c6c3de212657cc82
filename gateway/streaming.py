"""Server streams over HTTP: Server-Sent Events (default) or NDJSON (``Accept: application/x-ndjson``).

SSE: each message is one ``data:`` line of JSON; an error after the first message becomes
``event: error`` with the Status JSON; idle streams get ``: keepalive`` comments. NDJSON uses
grpc-gateway's framing: one ``{"result": …}`` or ``{"error": Status}`` object per line, and an
error before the first message (the service's, an expired or missing token, too many streams) is
that one ``{"error": Status}`` line with the error's HTTP status, as grpc-gateway answers it.

A reader task pumps the gRPC stream into a small queue, so waiting for the next message can time
out for keepalives without cancelling the RPC. The RPC is cancelled whenever the response ends,
including when the HTTP client goes away (Starlette cancels the body iterator).

Streams are bounded: each holds one of ``OMS_GATEWAY_MAX_STREAMS`` slots (at most
``OMS_GATEWAY_MAX_STREAMS_PER_PRINCIPAL`` per caller; beyond, 429 with Retry-After), ends cleanly
after ``OMS_GATEWAY_STREAM_MAX_LIFETIME_S`` whatever Grpc-Timeout asks, and ends with an
UNAUTHENTICATED error when the caller's token expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.context import Gateway
from gateway.descriptors import Binding
from gateway.errors import NDJSON, HttpError, make_status, status_dict, status_of, status_response
from gateway.headers import Metadata, response_headers
from gateway.rate_limits import caller_key
from gateway.transcoding import dumps, to_json_dict
from mesh.auth.principal import Principal
from mesh.serving.errors import ResourceExhausted
from mesh.serving.grpc_errors import details_of
from mesh.serving.stream_slots import StreamEnd, stream_end

__all__ = ["NDJSON", "SSE", "Discardable", "stream_response", "wants_ndjson"]
SSE = "text/event-stream"
_END = object()


def wants_ndjson(request: Request) -> bool:
    return NDJSON in request.headers.get("accept", "")


class _Framing:
    media_type = SSE

    def message(self, document: Any) -> bytes:
        return b"data: " + dumps(document) + b"\n\n"

    def error(self, status: dict[str, Any]) -> bytes:
        return b"event: error\ndata: " + dumps(status) + b"\n\n"

    def keepalive(self) -> bytes | None:
        return b": keepalive\n\n"


class _NdjsonFraming(_Framing):
    media_type = NDJSON

    def message(self, document: Any) -> bytes:
        return dumps({"result": document}) + b"\n"

    def error(self, status: dict[str, Any]) -> bytes:
        return dumps({"error": status}) + b"\n"

    def keepalive(self) -> bytes | None:
        return None  # a blank line is not valid NDJSON; TCP keepalive has to do


async def _pump(call: Any, queue: asyncio.Queue[Any]) -> None:
    try:
        async for reply in call:
            await queue.put(reply)
        await queue.put(_END)
    except grpc.aio.AioRpcError as exc:
        await queue.put(exc)


async def stream_response(
    gateway: Gateway,
    request: Request,
    binding: Binding,
    message: Message,
    metadata: Metadata,
    deadline_s: float,
    principal: Principal,
) -> Response:
    ndjson = wants_ndjson(request)
    framing = _NdjsonFraming() if ndjson else _Framing()
    settings = gateway.settings
    loop = asyncio.get_running_loop()
    end = stream_end(
        loop_now=loop.time(),
        wall_now=time.time(),
        lifetime_s=settings.stream_max_lifetime_s,
        token_expires_at=principal.expires_at,
    )
    upstream = _UpstreamStream()
    try:
        upstream.held.enter_context(gateway.streams.claim(caller_key(request, principal)))
    except ResourceExhausted as exc:
        refused = _too_many_streams(exc)
        if ndjson:
            return refused.response(emit_unpopulated=settings.emit_unpopulated, ndjson=True)
        raise refused from None
    try:
        # The upstream call never outlives the stream by much, even if this client stops reading.
        timeout = min(deadline_s, end.at - loop.time() + UPSTREAM_GRACE_S)
        upstream.call = gateway.upstreams.server_stream(binding.method)(
            message, metadata=metadata, timeout=max(timeout, 0.001), wait_for_ready=False
        )
        upstream.pump = asyncio.create_task(_pump(upstream.call, upstream.queue))
        # Wait for the first item so an upstream error before any message is a real HTTP error.
        first = await upstream.queue.get()
        if isinstance(first, grpc.aio.AioRpcError):
            if not ndjson:
                raise first  # a plain error response (gateway.handler)
            await upstream.close()
            answer_headers = response_headers(first.initial_metadata() or (), first.trailing_metadata() or ())
            return status_response(
                status_of(first), headers=answer_headers, emit_unpopulated=settings.emit_unpopulated, ndjson=True
            )
        headers = response_headers(await upstream.call.initial_metadata())
    except BaseException:
        await upstream.close()
        raise
    headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    body = _frames(gateway, binding, framing, upstream, first, end)
    return _StreamingResponse(body, upstream, media_type=framing.media_type, headers=headers)


# How much longer than the stream itself its upstream call may last (see stream_response).
UPSTREAM_GRACE_S = 5.0


class _UpstreamStream:
    """The upstream call behind one HTTP stream, its pump task and queue, and the stream's slot."""

    def __init__(self) -> None:
        self.call: Any = None
        self.pump: asyncio.Task[None] | None = None
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=16)
        self.held = contextlib.ExitStack()

    async def close(self) -> None:
        """Cancels the call and gives the slot back; safe to call more than once."""
        if self.call is not None:
            self.call.cancel()
        if self.pump is not None:
            self.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.pump
        self.held.close()


class Discardable(StreamingResponse):
    """A stream answer that can be dropped unsent (HEAD): releases what it holds."""

    async def discard(self) -> None:
        raise NotImplementedError


class _StreamingResponse(Discardable):
    """Closes the upstream whatever happens, also if the body is never iterated."""

    def __init__(self, body: AsyncIterator[bytes], upstream: _UpstreamStream, **kwargs: Any) -> None:
        super().__init__(body, **kwargs)
        self._upstream = upstream

    async def discard(self) -> None:
        await self._upstream.close()
        if isinstance(self.body_iterator, AsyncGenerator):
            await self.body_iterator.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._upstream.close()


def _too_many_streams(exc: ResourceExhausted) -> HttpError:
    # 429; its RetryInfo detail becomes the Retry-After header (gateway.errors.status_response).
    return HttpError(exc.code, exc.message, details_of(exc))


def _token_expired(emit_unpopulated: bool) -> dict[str, Any]:
    status = make_status(grpc.StatusCode.UNAUTHENTICATED, "token expired: reconnect with a fresh token")
    return status_dict(status, emit_unpopulated=emit_unpopulated)


async def _frames(
    gateway: Gateway,
    binding: Binding,
    framing: _Framing,
    upstream: _UpstreamStream,
    item: Any,
    end: StreamEnd,
) -> AsyncIterator[bytes]:
    emit = gateway.settings.emit_unpopulated
    loop = asyncio.get_running_loop()
    try:
        while item is not _END:
            if isinstance(item, grpc.aio.AioRpcError):
                yield framing.error(status_dict(status_of(item), emit_unpopulated=emit))
                return
            yield framing.message(to_json_dict(item, binding, emit))
            item = None
            while item is None:
                remaining = end.at - loop.time()
                if remaining <= 0:
                    # Lifetime: a clean end (EventSource reconnects). Token: say why, then end.
                    if end.token_expired:
                        yield framing.error(_token_expired(emit))
                    return
                try:
                    item = await asyncio.wait_for(
                        upstream.queue.get(), min(gateway.settings.sse_keepalive_s, remaining)
                    )
                except TimeoutError:
                    if end.at - loop.time() > 0 and (beat := framing.keepalive()) is not None:
                        yield beat
    finally:
        await upstream.close()
