"""The one endpoint behind every annotated route: match, authenticate, transcode, call, answer."""

from __future__ import annotations

import gzip
import time
from urllib.parse import quote

import grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.context import Gateway
from gateway.errors import HttpError, bad_request, make_status, status_of, status_response
from gateway.headers import deadline_of, outgoing_metadata, request_id_of, response_headers
from gateway.rate_limits import add_quota_headers
from gateway.routing import MethodNotAllowed, RouteMatch
from gateway.streaming import Discardable, stream_response, wants_ndjson
from gateway.transcoding import build_request, dumps, fill_update_mask, parse_json, read_body, to_json_dict
from mesh.auth.principal import ANONYMOUS, Principal
from mesh.auth.verification import AuthError, verify_off_loop
from mesh.serving.bounds import MAX_REQUEST_BYTES
from mesh.serving.errors import shown
from mesh.serving.grpc_errors import incident_error

# Responses at least this large are gzipped for clients that accept it (streams never are: it
# would hold their messages back until a compression block fills).
GZIP_MIN_BYTES = 1024


async def transcode(gateway: Gateway, request: Request) -> Response:
    request_id = request_id_of(request)
    emit = gateway.settings.emit_unpopulated
    started = time.perf_counter()
    route = "unmatched"
    try:
        match = _match(gateway, request)
        route = match.binding.template.source
        response = await _serve(gateway, request, match, request_id)
    except HttpError as exc:
        response = exc.response(emit_unpopulated=emit, ndjson=exc.stream_framed)
    except grpc.aio.AioRpcError as exc:
        response = rpc_error_response(exc, emit)
    except Exception as exc:  # noqa: BLE001 - a bug: the client gets an id to quote, the log the rest
        response = _internal_error(exc, emit)
    response.headers["X-Request-Id"] = request_id
    add_quota_headers(request, response)
    gateway.metrics.observe(request.method, route, response.status_code, time.perf_counter() - started)
    return response


class TranscodingApp:
    """ASGI form of ``transcode``, for every method (custom verbs too): the router answers 404/405."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await transcode(self._gateway, Request(scope, receive))
        if scope["method"] == "HEAD":
            await _send_head(response, send)
        else:
            await response(scope, receive, send)


async def _send_head(response: Response, send: Send) -> None:
    """The GET answer's status and headers (Content-Length included), without its content."""
    try:
        await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        if isinstance(response, Discardable):
            await response.discard()  # a stream's upstream call and slot


def rpc_error_response(error: grpc.aio.AioRpcError, emit_unpopulated: bool) -> Response:
    headers = response_headers(error.initial_metadata() or (), error.trailing_metadata() or ())
    return status_response(status_of(error), headers=headers, emit_unpopulated=emit_unpopulated)


def _internal_error(exc: Exception, emit_unpopulated: bool) -> Response:
    error = incident_error(exc)
    return status_response(make_status(error.code, error.message), emit_unpopulated=emit_unpopulated)


def _json_response(request: Request, body: bytes, headers: dict[str, str]) -> Response:
    if len(body) >= GZIP_MIN_BYTES and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
        headers["Vary"] = "Accept-Encoding"
    return Response(body, media_type="application/json", headers=headers)


def _match(gateway: Gateway, request: Request) -> RouteMatch:
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(request.url.path)
    try:
        match = gateway.router.match(request.method, path)
    except MethodNotAllowed as exc:
        raise HttpError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"method {shown(request.method, quoted=False)} is not allowed on {shown(request.url.path, quoted=False)}",
            headers={"Allow": ", ".join(exc.allowed)},
            http_status=405,
        ) from None
    if match is None:
        raise HttpError(
            grpc.StatusCode.NOT_FOUND,
            f"no route for {shown(request.method, quoted=False)} {shown(request.url.path, quoted=False)}",
        )
    return match


async def _authenticate(gateway: Gateway, request: Request, match: RouteMatch) -> tuple[str | None, Principal]:
    """Checks the token here for a fast 401; the service checks it again and decides roles.

    A public RPC (the method's declared rule) called without a token is forwarded without one.
    """
    authorization = request.headers.get("authorization")
    token = request.query_params.get("access_token")
    if not authorization and token and match.binding.method.server_streaming:
        # A browser EventSource cannot send headers (RFC 6750 2.3 query form, streams only).
        authorization = f"Bearer {token}"
    if not authorization and not match.binding.method.rule.needs_token:
        return None, ANONYMOUS
    try:
        principal = await verify_off_loop(gateway.verifier, authorization)
    except AuthError as exc:
        raise HttpError(grpc.StatusCode.UNAUTHENTICATED, str(exc)) from None
    return authorization, principal


async def _serve(gateway: Gateway, request: Request, match: RouteMatch, request_id: str) -> Response:
    settings = gateway.settings
    binding = match.binding
    try:
        authorization, principal = await _authenticate(gateway, request, match)
        await gateway.rate_limits.admit(request, binding, principal)
    except HttpError as exc:
        # The service would refuse the token (or the caller over its budget) on the stream:
        # grpc-gateway frames that error.
        exc.stream_framed = binding.method.server_streaming and wants_ndjson(request)
        raise
    body_json = parse_json(await read_body(request, settings.max_body_bytes)) if binding.body else None
    query = request.query_params.multi_items()
    message = build_request(binding, match.path_params, query, body_json)
    fill_update_mask(binding, message, body_json, {key for key, _ in query})
    if message.ByteSize() > MAX_REQUEST_BYTES:
        # The service would refuse it as RESOURCE_EXHAUSTED (a 429 that invites a retry); no
        # legitimate request is this large (the bounds say so), so it is the client's 400.
        raise bad_request(f"the request exceeds the {MAX_REQUEST_BYTES} bytes any legitimate request fits in")
    metadata = outgoing_metadata(request, request_id, authorization)
    if binding.method.server_streaming:
        timeout = deadline_of(request, settings.stream_timeout_s)
        return await stream_response(gateway, request, binding, message, metadata, timeout, principal)
    timeout = deadline_of(request, settings.default_timeout_s)
    call = gateway.upstreams.unary(binding.method)(message, metadata=metadata, timeout=timeout, wait_for_ready=False)
    reply = await call
    headers = response_headers(await call.initial_metadata(), await call.trailing_metadata())
    document = to_json_dict(reply, binding, settings.emit_unpopulated)
    return _json_response(request, dumps(document), headers)
