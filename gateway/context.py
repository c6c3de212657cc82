"""What a request handler needs from the running gateway (built by the app factory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from gateway.descriptors import Binding
from gateway.metrics import Metrics
from gateway.rate_limits import RateLimits
from gateway.routing import Router
from gateway.settings import GatewaySettings
from gateway.upstream import Upstreams
from mesh.auth.verification import TokenVerifier
from mesh.serving.stream_slots import StreamSlots


@dataclass
class Gateway:
    settings: GatewaySettings
    verifier: TokenVerifier
    bindings: list[Binding]
    router: Router
    upstreams: Upstreams
    streams: StreamSlots
    rate_limits: RateLimits
    metrics: Metrics = field(default_factory=Metrics)
    openapi: dict[str, Any] | None = None


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway
