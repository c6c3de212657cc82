"""The app factory: ``create_app(settings)`` builds everything, connects nothing until startup.

Two paths through the app. The gateway's own pages (health, OpenAPI, docs, metrics) are a small
Starlette app. Every other request goes straight to the transcoder, which routes by the
``google.api.http`` annotations itself, turns every failure into a ``google.rpc.Status`` and
compresses its own responses, so it needs none of Starlette's routing, exception and gzip layers.
Those layers cost ~0.4 ms of CPU per proxied call when the process wakes cold after waiting on
the upstream, which was most of the latency the gateway added (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.context import Gateway
from gateway.descriptors import discover
from gateway.dev_sign_in import PATH as DEV_SIGN_IN_PATH
from gateway.dev_sign_in import dev_sign_in_enabled, dev_sign_in_routes
from gateway.docs_ui import docs_page, openapi_json, static_assets
from gateway.handler import GZIP_MIN_BYTES, TranscodingApp
from gateway.health import healthz
from gateway.metrics import Metrics
from gateway.openapi import build_document
from gateway.proto_comments import load_comments
from gateway.rate_limits import QUOTA_HEADERS, RateLimits
from gateway.routing import Router
from gateway.settings import GatewaySettings
from gateway.telemetry import TracingMiddleware, route_of
from gateway.upstream import Upstreams
from gateway.web import WEB_PREFIXES, is_web_path, web_routes
from mesh.auth.settings import AuthSettings, load_auth
from mesh.auth.tls import MeshTls, TlsSettings
from mesh.auth.verification import TokenVerifier
from mesh.serving.stream_slots import StreamSlots
from mesh.settings.common import DeploymentSettings, load

# Paths the gateway answers itself, ahead of the transcoded routes (and without a token).
RESERVED_PATHS = ("/healthz", "/openapi.json", "/docs", "/docs/static", "/metrics")


class GatewayApp:
    """The ASGI app: own paths to the Starlette app (and lifespan events), the rest transcoded."""

    def __init__(self, own: Starlette, transcoded: ASGIApp, *, dev_sign_in: bool = False) -> None:
        self.own = own
        self._transcoded = transcoded
        self._dev_sign_in = dev_sign_in

    def is_own(self, path: str) -> bool:
        return is_own_path(path) or is_web_path(path) or (self._dev_sign_in and path == DEV_SIGN_IN_PATH)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.is_own(scope["path"]):
            await self._transcoded(scope, receive, send)
        else:
            await self.own(scope, receive, send)

    def lifespan(self) -> AbstractAsyncContextManager[Any]:
        """Start-up and shutdown, for running the app without a server's lifespan events (tests)."""
        return self.own.router.lifespan_context(self.own)


def is_own_path(path: str) -> bool:
    return any(path == own or path.startswith(own + "/") for own in RESERVED_PATHS)


def create_app(
    settings: GatewaySettings | None = None,
    auth: AuthSettings | None = None,
    tls: TlsSettings | None = None,
    deployment: DeploymentSettings | None = None,
) -> GatewayApp:
    settings = settings or load(GatewaySettings)
    auth = auth or load_auth()
    tls = tls or load(TlsSettings)
    dev_sign_in = dev_sign_in_enabled(auth, deployment or load(DeploymentSettings))
    bindings = discover(settings.upstreams())
    metrics = Metrics()
    gateway = Gateway(
        settings=settings,
        verifier=TokenVerifier(auth),
        bindings=bindings,
        router=Router(bindings),
        upstreams=Upstreams(settings.upstreams(), settings.connect_timeout_s, MeshTls.from_settings(tls)),
        streams=StreamSlots(
            max_total=settings.max_streams, max_per_key=settings.max_streams_per_principal, what="streams"
        ),
        rate_limits=RateLimits.from_settings(settings, metrics),
        metrics=metrics,
    )

    gateway.metrics.open_streams.set_function(lambda: gateway.streams.total)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway.upstreams.start()
        comments = await asyncio.to_thread(load_comments, settings.proto_path)
        gateway.openapi = build_document(bindings, comments, auth.enabled)
        try:
            yield
        finally:
            await gateway.upstreams.close()
            await gateway.rate_limits.close()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
        static_assets(),
        Route("/metrics", gateway.metrics.endpoint, methods=["GET"]),
        *web_routes(settings.web_dist),
        *(dev_sign_in_routes(auth) if dev_sign_in else []),
    ]
    # Asset names carry hashes: spans name /assets/{path}, never each file.
    traced_routes = route_of(gateway.router, RESERVED_PATHS + WEB_PREFIXES)
    cors = _cors(settings)
    gzip = Middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES)
    own = Starlette(
        routes=routes,
        middleware=[Middleware(TracingMiddleware, route_of=traced_routes), *cors, gzip],
        lifespan=lifespan,
    )
    own.state.gateway = gateway
    transcoded: ASGIApp = TranscodingApp(gateway)
    for layer in reversed(cors):
        transcoded = layer.cls(transcoded, *layer.args, **layer.kwargs)
    transcoded = TracingMiddleware(transcoded, route_of=traced_routes)
    return GatewayApp(own, transcoded, dev_sign_in=dev_sign_in)


def _cors(settings: GatewaySettings) -> list[Middleware]:
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            # Grpc-Metadata-* cannot be listed ahead of time: echo what the browser asks for.
            allow_headers=["*"],
            # "*" alone is not honoured on credentialed requests: name what scripts read.
            expose_headers=["X-Request-Id", "traceresponse", *QUOTA_HEADERS, "Grpc-Metadata-*", "*"],
            max_age=600,
        )
    ]
