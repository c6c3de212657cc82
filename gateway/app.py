"""The app factory: ``create_app(settings)`` builds everything, connects nothing until startup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.routing import BaseRoute, Route

from gateway.context import Gateway
from gateway.descriptors import discover
from gateway.docs_ui import docs_page, openapi_json, static_assets
from gateway.handler import TranscodingApp
from gateway.health import healthz
from gateway.openapi import build_document
from gateway.proto_comments import load_comments
from gateway.routing import Router
from gateway.settings import GatewaySettings
from gateway.streaming import NDJSON
from gateway.telemetry import TracingMiddleware, route_of
from gateway.upstream import Upstreams
from mesh.auth import AuthSettings, TokenVerifier
from mesh.settings import load

# Paths the gateway answers itself, ahead of the transcoded routes (and without a token).
RESERVED_PATHS = ("/healthz", "/openapi.json", "/docs", "/docs/static", "/metrics")
# Compressing a stream would hold its messages back until a compression block fills.
_GZIP_EXCLUDED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, NDJSON)


def create_app(settings: GatewaySettings | None = None, auth: AuthSettings | None = None) -> Starlette:
    settings = settings or load(GatewaySettings)
    auth = auth or load(AuthSettings)
    bindings = discover(settings.upstreams())
    gateway = Gateway(
        settings=settings,
        verifier=TokenVerifier(auth),
        bindings=bindings,
        router=Router(bindings),
        upstreams=Upstreams(settings.upstreams(), settings.connect_timeout_s),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        gateway.upstreams.start()
        comments = await asyncio.to_thread(load_comments, settings.proto_path)
        gateway.openapi = build_document(bindings, comments, auth.enabled)
        try:
            yield
        finally:
            await gateway.upstreams.close()

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
        static_assets(),
        Route("/metrics", gateway.metrics.endpoint, methods=["GET"]),
        Route("/{path:path}", TranscodingApp()),
    ]
    tracing = Middleware(TracingMiddleware, route_of=route_of(gateway.router, RESERVED_PATHS))
    app = Starlette(routes=routes, middleware=[tracing, *_middleware(settings)], lifespan=lifespan)
    app.state.gateway = gateway
    return app


def _middleware(settings: GatewaySettings) -> list[Middleware]:
    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                # Grpc-Metadata-* cannot be listed ahead of time: echo what the browser asks for.
                allow_headers=["*"],
                expose_headers=["X-Request-Id", "Grpc-Metadata-*", "*"],
                max_age=600,
            )
        )
    middleware.append(Middleware(GZipMiddleware, minimum_size=1024, exclude_content_types=_GZIP_EXCLUDED))
    return middleware
