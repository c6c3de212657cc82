"""``GET /healthz``: the gateway is healthy when every upstream's gRPC health check says SERVING."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import Response

from gateway.context import gateway_of

SERVING = "SERVING"


async def healthz(request: Request) -> Response:
    gateway = gateway_of(request)
    names = list(gateway.upstreams.addresses)
    timeout = gateway.settings.health_timeout_s
    statuses = await asyncio.gather(*(gateway.upstreams.check(name, timeout) for name in names))
    upstreams = {
        name: {"address": gateway.upstreams.addresses[name], "status": status}
        for name, status in zip(names, statuses, strict=True)
    }
    failing = [name for name, status in zip(names, statuses, strict=True) if status != SERVING]
    document: dict[str, object] = {"status": "NOT_SERVING" if failing else SERVING, "upstreams": upstreams}
    if failing:
        document["failing"] = failing
        document["message"] = "not serving: " + ", ".join(f"{n} ({upstreams[n]['status']})" for n in failing)
    return Response(
        json.dumps(document, separators=(",", ":")),
        status_code=503 if failing else 200,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
