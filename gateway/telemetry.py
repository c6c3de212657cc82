"""Tracing of the gateway: one SERVER span per HTTP request, CLIENT spans for the upstream calls.

The span continues the caller's W3C ``traceparent``/``tracestate`` (if any); the upstream calls
made while handling the request are its children, and the gRPC client interceptors put their
context into the call's metadata, replacing the ``traceparent`` the gateway forwards as-is.
Attributes follow the HTTP semantic conventions; ``http.route`` is the ``google.api.http``
template that matched (bounded, like the metrics' ``route`` label), never the concrete path.
Every answer carries the span's ``traceresponse`` header (mesh.telemetry.trace_response).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.routing import MethodNotAllowed, Router
from mesh.telemetry.trace_response import TRACE_RESPONSE, trace_response

RouteOf = Callable[[str, str], str | None]
"""(method, raw path) → the route template, or None when no route matches."""

tracer = trace.get_tracer("oms.gateway")
_TRACE_RESPONSE_HEADER = TRACE_RESPONSE.encode()


def route_of(router: Router, reserved: tuple[str, ...]) -> RouteOf:
    """The template of the transcoded route a request matches, or the gateway's own path."""

    longest_first = sorted(reserved, key=len, reverse=True)

    def route(method: str, path: str) -> str | None:
        for own in longest_first:
            if path == own:
                return own
            if path.startswith(own + "/"):
                return own + "/{path}"
        try:
            match = router.match(method, path)
        except MethodNotAllowed:
            return None
        return match.binding.template.source if match is not None else None

    return route


class TracingMiddleware:
    """Pure ASGI middleware (streams pass through untouched): the SERVER span of each HTTP request."""

    def __init__(self, app: ASGIApp, route_of: RouteOf) -> None:
        self._app = app
        self._route_of = route_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = _headers(scope)
        method = scope["method"]
        raw = scope.get("raw_path")
        path = raw.decode("latin-1").split("?", 1)[0] if raw else scope["path"]
        route = self._route_of(method, path)
        attributes = _request_attributes(scope, headers, method)
        if route is not None:
            attributes["http.route"] = route
        name = f"{method} {route}" if route is not None else method
        with tracer.start_as_current_span(
            name, context=propagate.extract(headers), kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            answer = trace_response(span.get_span_context())
            trace_header = (_TRACE_RESPONSE_HEADER, answer.encode()) if answer is not None else None

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    if trace_header is not None:
                        # The trace id a client can quote to an operator (W3C draft header).
                        message["headers"] = [*message.get("headers", ()), trace_header]
                    status = int(message["status"])
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:  # 4xx is the client's error, not the server span's
                        span.set_status(Status(StatusCode.ERROR))
                        span.set_attribute("error.type", str(status))
                await send(message)

            await self._app(scope, receive, send_traced)


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers, lower-case names (repeated ones joined, as the propagators expect)."""
    headers: MutableMapping[str, str] = {}
    for name, value in scope.get("headers") or ():
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return dict(headers)


def _request_attributes(scope: Scope, headers: dict[str, str], method: str) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.path": scope["path"],
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    server = scope.get("server")
    if server:
        attributes["server.address"] = headers.get("host", str(server[0])).rsplit(":", 1)[0]
        if server[1] is not None:
            attributes["server.port"] = int(server[1])
    client = scope.get("client")
    if client:
        attributes["client.address"] = str(client[0])
    if agent := headers.get("user-agent"):
        attributes["user_agent.original"] = agent
    return attributes
