"""Server streams over HTTP: Server-Sent Events (default) or NDJSON (``Accept: application/x-ndjson``).

SSE: each message is one ``data:`` line of JSON; an error after the first message becomes
``event: error`` with the Status JSON; idle streams get ``: keepalive`` comments. NDJSON uses
grpc-gateway's framing: one ``{"result": …}`` or ``{"error": Status}`` object per line.

A reader task pumps the gRPC stream into a small queue, so waiting for the next message can time
out for keepalives without cancelling the RPC. The RPC is cancelled whenever the response ends,
including when the HTTP client goes away (Starlette cancels the body iterator).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.context import Gateway
from gateway.descriptors import Binding
from gateway.errors import status_dict, status_of
from gateway.headers import Metadata, response_headers
from gateway.transcoding import dumps, to_json_dict

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
_END = object()


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
    gateway: Gateway, request: Request, binding: Binding, message: Message, metadata: Metadata, deadline_s: float
) -> Response:
    framing = _NdjsonFraming() if NDJSON in request.headers.get("accept", "") else _Framing()
    call = gateway.upstreams.server_stream(binding.method)(
        message, metadata=metadata, timeout=deadline_s, wait_for_ready=False
    )
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=16)
    pump = asyncio.create_task(_pump(call, queue))
    try:
        # Wait for the first item so an upstream error before any message is a real HTTP error.
        first = await queue.get()
    except BaseException:
        call.cancel()
        pump.cancel()
        raise
    if isinstance(first, grpc.aio.AioRpcError):
        raise first
    headers = response_headers(await call.initial_metadata())
    headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    body = _frames(gateway, binding, framing, call, pump, queue, first)
    return StreamingResponse(body, media_type=framing.media_type, headers=headers)


async def _frames(
    gateway: Gateway,
    binding: Binding,
    framing: _Framing,
    call: Any,
    pump: asyncio.Task[None],
    queue: asyncio.Queue[Any],
    item: Any,
) -> AsyncIterator[bytes]:
    emit = gateway.settings.emit_unpopulated
    try:
        while item is not _END:
            if isinstance(item, grpc.aio.AioRpcError):
                yield framing.error(status_dict(status_of(item)))
                return
            yield framing.message(to_json_dict(item, binding, emit))
            item = None
            while item is None:
                try:
                    item = await asyncio.wait_for(queue.get(), gateway.settings.sse_keepalive_s)
                except TimeoutError:
                    if (beat := framing.keepalive()) is not None:
                        yield beat
    finally:
        call.cancel()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
