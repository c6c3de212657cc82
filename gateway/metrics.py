"""Prometheus RED metrics per route template (never per concrete path: bounded label values)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response


class Metrics:
    def __init__(self) -> None:
        # One registry per app, so several apps (tests) never collide in the global one.
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "oms_gateway_requests",
            "HTTP requests by route template",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "oms_gateway_request_errors",
            "HTTP responses with status >= 400",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "oms_gateway_request_duration_seconds",
            "Time to the response headers (streams: to the first message)",
            ["method", "route"],
            registry=self.registry,
        )

        self.rate_limited = Counter(
            "oms_gateway_rate_limited",
            "Requests refused (429) by the rate limit, by route class",
            ["route_class"],
            registry=self.registry,
        )
        self.rate_limit_storage_errors = Counter(
            "oms_gateway_rate_limit_storage_errors",
            "Rate-limit decisions Redis failed or timed out on (the local limit decided)",
            registry=self.registry,
        )

        # Set to read the live count when the app is built (gateway.app).
        self.open_streams = Gauge("oms_gateway_open_streams", "Open SSE/NDJSON streams", registry=self.registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        if status >= 400:
            self.errors.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
