"""Rate limits at the gateway: per caller and route class, 429 with the draft's headers, refill."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from limits.aio.storage import RedisStorage

from gateway.app import GatewayApp, create_app
from gateway.context import Gateway
from gateway.descriptors import discover
from gateway.rate_limits import RateLimits, RouteClass, route_class
from gateway.settings import GatewaySettings
from testkit.processes import free_port
from testkit.wait import eventually
from tests.unit.gateway.conftest import AUTH, Recorder, Upstream, settings_for, token

# Exact counts are asserted with hour-long windows: a sliding window's count shifts when a window
# boundary passes, and an hour's boundary falls inside a test's few milliseconds almost never.
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"


@contextlib.asynccontextmanager
async def gateway(
    upstreams: dict[str, Upstream], address: str = "10.1.2.3", **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, Gateway]]:
    app: GatewayApp = create_app(settings_for(upstreams, **settings), AUTH)
    async with app.lifespan(), client_of(app, address) as http:
        yield http, app.own.state.gateway


def client_of(app: GatewayApp, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4567))
    return httpx.AsyncClient(transport=transport, base_url="http://gw.test")


def bearer(subject: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token(subject, ('customer',))}"}


def remaining(reply: httpx.Response) -> int:
    match = re.fullmatch(r'"(\w+)";r=(\d+);t=(\d+)', reply.headers["RateLimit"])
    assert match, reply.headers["RateLimit"]
    return int(match.group(2))


async def test_over_the_limit_is_refused_with_429_the_headers_and_a_quota_failure(
    upstreams: dict[str, Upstream], recorder: Recorder
) -> None:
    async with gateway(upstreams, rate_limit_writes="2/hour") as (http, gw):
        for _ in range(2):
            reply = await http.post("/customers", json={}, headers=bearer("c-over"))
            assert reply.status_code == 200, reply.text
        refused = await http.post("/customers", json={}, headers=bearer("c-over"))

        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.headers["RateLimit-Policy"] == '"writes";q=2;w=3600'
        assert remaining(refused) == 0
        body = refused.json()
        assert body["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
        quota = [d for d in body["details"] if d["@type"] == QUOTA_FAILURE]
        assert quota and quota[0]["violations"][0]["description"] == "at most 2 writes requests per 3600 s"
        info = [d for d in body["details"] if d["@type"] == ERROR_INFO]
        assert info[0]["reason"] == "RATE_LIMITED" and info[0]["metadata"] == {"policy": "writes"}
        # The refused call never reached the service, and the refusal is counted by class.
        assert len([c for c in recorder.calls if c.method.endswith("/CreateCustomer")]) == 2
        assert gw.metrics.rate_limited.labels("writes")._value.get() == 1
        # Another caller, and another class of the same caller, have budgets of their own.
        assert (await http.post("/customers", json={}, headers=bearer("c-other"))).status_code == 200
        assert (await http.get("/customers/c-over", headers=bearer("c-over"))).status_code == 200


async def test_every_answer_carries_the_remaining_quota_errors_too(
    upstreams: dict[str, Upstream], recorder: Recorder
) -> None:
    async def not_found(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such order")

    async with gateway(upstreams, rate_limit_reads="5/hour", cors_origins=("https://shop.example",)) as (http, _):
        ok = await http.get("/orders/o-1", headers=bearer("c-headers"))
        assert ok.status_code == 200
        assert ok.headers["RateLimit-Policy"] == '"reads";q=5;w=3600'
        assert remaining(ok) == 4
        recorder.behaviors["GetOrder"] = not_found
        missing = await http.get("/orders/o-2", headers=bearer("c-headers"))
        assert missing.status_code == 404
        assert remaining(missing) == 3
        # A browser script on an allowed origin may read them.
        cross = await http.get("/orders/o-3", headers={"origin": "https://shop.example", **bearer("c-headers")})
        exposed = cross.headers["access-control-expose-headers"]
        assert "RateLimit" in exposed and "RateLimit-Policy" in exposed and "Retry-After" in exposed


async def test_the_window_refills(upstreams: dict[str, Upstream]) -> None:
    async with gateway(upstreams, rate_limit_reads="2/second") as (http, _):
        statuses = [(await http.get("/orders/o-1", headers=bearer("c-refill"))).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]

        async def served_again() -> int:
            return (await http.get("/orders/o-1", headers=bearer("c-refill"))).status_code

        await eventually(served_again, until=lambda status: status == 200, timeout_s=5, what="the window refilled")


async def test_anonymous_callers_are_limited_by_their_address(upstreams: dict[str, Upstream]) -> None:
    app = create_app(settings_for(upstreams, rate_limit_reads="1/hour"), AUTH)
    async with app.lifespan(), client_of(app, "10.0.0.1") as first, client_of(app, "10.0.0.2") as second:
        assert (await first.get("/products/p-1")).status_code == 200
        assert (await first.get("/products/p-1")).status_code == 429
        assert (await second.get("/products/p-1")).status_code == 200
        # The same address with a token is that token's subject instead.
        assert (await first.get("/products/p-1", headers=bearer("c-anon"))).status_code == 200


async def test_disabled_limits_add_no_headers(upstreams: dict[str, Upstream]) -> None:
    async with gateway(upstreams, rate_limits_enabled=False, rate_limit_reads="1/hour") as (http, _):
        for _ in range(3):
            reply = await http.get("/orders/o-1", headers=bearer("c-off"))
            assert reply.status_code == 200 and "RateLimit" not in reply.headers


async def test_a_dead_redis_costs_one_timeout_per_breaker_period_and_the_local_limit_decides(
    upstreams: dict[str, Upstream],
) -> None:
    async with gateway(upstreams, rate_limit_reads="3/hour", rate_limit_breaker_s=600) as (http, gw):
        # Nothing listens on this port: every Redis call would fail at once.
        dead = RedisStorage(f"async+redis://127.0.0.1:{free_port()}/0", wrap_exceptions=True, implementation="redispy")
        gw.rate_limits = RateLimits(gw.settings, gw.metrics, dead)
        statuses = [(await http.get("/orders/o-1", headers=bearer("c-dead"))).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        assert gw.metrics.rate_limit_storage_errors._value.get() == 1


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/orders", RouteClass.PLACEMENT),
        ("GET", "/orders/{order_id}:watch", RouteClass.STREAMS),
        ("GET", "/orders/{order_id}", RouteClass.READS),
        ("PATCH", "/orders/{order_id}", RouteClass.WRITES),
        ("POST", "/orders/{order_id}:cancel", RouteClass.WRITES),
    ],
)
def test_route_classes_come_from_the_binding(method: str, path: str, expected: RouteClass) -> None:
    bindings = {(b.http_method, b.template.source): b for b in discover(GatewaySettings().upstreams())}
    assert route_class(bindings[method, path]) is expected


def test_a_malformed_rate_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="must be a rate such as"):
        GatewaySettings(rate_limit_reads="lots")


async def test_placement_and_streams_spend_budgets_of_their_own(upstreams: dict[str, Upstream]) -> None:
    limits = {"rate_limit_placement": "1/hour", "rate_limit_streams": "1/hour", "rate_limit_writes": "5/hour"}
    async with gateway(upstreams, **limits) as (http, gw):
        placed = await http.post("/orders", json={}, headers=bearer("c-classes"))
        assert placed.status_code == 200 and placed.headers["RateLimit-Policy"] == '"placement";q=1;w=3600'
        assert (await http.post("/orders", json={}, headers=bearer("c-classes"))).status_code == 429
        # Other writes are still allowed.
        cancelled = await http.post("/orders/o-1:cancel", json={}, headers=bearer("c-classes"))
        assert cancelled.status_code == 200 and remaining(cancelled) == 4
        ndjson = {"accept": "application/x-ndjson", **bearer("c-classes")}
        watched = await http.get("/orders/o-1:watch", headers=ndjson)
        assert watched.status_code == 200 and watched.headers["RateLimit-Policy"] == '"streams";q=1;w=3600'
        assert (await http.get("/orders/o-1:watch", headers=ndjson)).status_code == 429
        assert gw.metrics.rate_limited.labels("placement")._value.get() == 1
        assert gw.metrics.rate_limited.labels("streams")._value.get() == 1
