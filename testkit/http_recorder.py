"""A tiny HTTP/1.1 server on loopback that records every request and answers as the test says.

It stands in front of a real server (``forward_to``: a recording proxy, so a test asserts on the
requests a client really put on the wire) or in place of one (canned answers, no answer at all,
a connection dropped after the request arrived): the failures a real server will not produce
on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

# Answers bigger than this are a broken test, not a client under test.
MAX_BODY = 1 << 20
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))

    @property
    def form(self) -> dict[str, str]:
        """The urlencoded body, one value a name (Stripe's nested names stay flat: metadata[order_id])."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True, strict_parsing=bool(self.body)))


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(payload).encode(), {"content-type": "application/json", **(headers or {})})


class Hang:
    """Never answer: the client's timeout, with the request already received."""


class Drop:
    """Close the connection once the request has arrived, without a byte of answer."""


Answer = Reply | Hang | Drop
Responder = Callable[[RecordedRequest], Awaitable[Answer]]


def forward_to(base_url: str, *, timeout_s: float = 10.0) -> Responder:
    """A responder that passes each request on to ``base_url`` and its answer back."""

    async def forward(request: RecordedRequest) -> Answer:
        headers = {k: v for k, v in request.headers.items() if k not in _HOP_BY_HOP and k != "host"}
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s) as client:
            reply = await client.request(request.method, request.target, headers=headers, content=request.body)
        kept = {k: v for k, v in reply.headers.items() if k.lower() not in _HOP_BY_HOP}
        return Reply(reply.status_code, reply.content, kept)

    return forward


def answers(*sequence: Answer) -> Responder:
    """A responder giving these answers in turn, the last one again once they run out."""
    remaining = list(sequence)

    async def next_answer(request: RecordedRequest) -> Answer:
        return remaining.pop(0) if len(remaining) > 1 else remaining[0]

    return next_answer


class RecordingServer:
    """``async with RecordingServer(responder) as server``: ``server.url``, ``server.requests``."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[RecordedRequest] = []
        self.url = ""
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], asyncio.StreamWriter] = {}
        self._closing = asyncio.Event()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stops listening and closes every connection, hanging ones included. Handlers are let
        finish rather than cancelled: asyncio reports a cancelled connection handler as an error."""
        self._closing.set()
        if self._server is not None:
            self._server.close()
        for writer in self._connections.values():
            writer.close()
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=5)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> RecordingServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.stop()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        try:
            while (request := await _read_request(reader)) is not None:
                self.requests.append(request)
                answer = await self.respond(request)
                if isinstance(answer, Drop):
                    return
                if isinstance(answer, Hang):
                    await self._closing.wait()
                    return
                writer.write(_encode(answer))
                await writer.drain()
                if request.headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._connections.pop(task, None)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed its keep-alive connection
    request_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert "chunked" not in headers.get("transfer-encoding", ""), "chunked request bodies are not supported"
    length = int(headers.get("content-length", "0"))
    assert length <= MAX_BODY, f"request body of {length} bytes"
    body = await reader.readexactly(length) if length else b""
    return RecordedRequest(method, target, headers, body)


def _encode(reply: Reply) -> bytes:
    reason = HTTPStatus(reply.status).phrase if reply.status in HTTPStatus._value2member_map_ else "Unknown"
    headers = {**reply.headers, "content-length": str(len(reply.body))}
    head = f"HTTP/1.1 {reply.status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + reply.body
