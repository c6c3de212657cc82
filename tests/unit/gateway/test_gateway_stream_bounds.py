"""Streams through the gateway are bounded: caps (429 + Retry-After), a lifetime, token expiry."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2

from gateway.app import GatewayApp, create_app
from gateway.context import Gateway
from mesh.auth.minting import mint_token
from mesh.auth.settings import AuthSettings
from testkit.wait import eventually
from tests.unit.gateway.conftest import SECRET, Recorder, Upstream, rich_abort_metadata, serve, settings_for
from tests.unit.gateway.test_gateway_streaming import watch

# No leeway: a token's stream ends at its exp, so the expiry test is quick.
AUTH = AuthSettings(jwt_secret=SECRET, jwks=None, leeway_s=0)


def bearer(subject: str, ttl_s: int = 3600) -> dict[str, str]:
    return {"authorization": f"Bearer {mint_token(subject, ['customer'], AUTH, ttl_s=ttl_s)}"}


@contextlib.asynccontextmanager
async def gateway(upstreams: dict[str, Upstream], **settings: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Gateway]]:
    app: GatewayApp = create_app(settings_for(upstreams, **settings), AUTH)
    async with app.lifespan(), serve(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        yield http, app.own.state.gateway


@contextlib.asynccontextmanager
async def open_stream(http: httpx.AsyncClient, subject: str, order_id: str = "o-1") -> AsyncIterator[httpx.Response]:
    """A stream that has delivered its first message, held open for the body of the ``with``."""
    async with http.stream("GET", f"/orders/{order_id}:watch", headers=bearer(subject)) as response:
        assert response.status_code == 200, await response.aread()
        lines = response.aiter_lines()
        assert (await asyncio.wait_for(anext(lines), 5)).startswith("data: ")
        yield response


async def slots_in_use(gw: Gateway, count: int) -> None:
    async def reached() -> bool:
        return gw.streams.total == count

    await eventually(reached, timeout_s=5, interval_s=0.01, what=f"{count} gateway stream slots in use")


def quota_subjects(body: dict[str, Any]) -> list[str]:
    quota = "type.googleapis.com/google.rpc.QuotaFailure"
    return [v["subject"] for d in body["details"] if d["@type"] == quota for v in d["violations"]]


async def test_streams_beyond_the_caps_are_429_with_retry_after(
    upstreams: dict[str, Upstream], recorder: Recorder
) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, forever=True)
    async with gateway(upstreams, max_streams_per_principal=2, max_streams=3) as (http, gw):
        async with contextlib.AsyncExitStack() as held:
            for _ in range(2):
                await held.enter_async_context(open_stream(http, "c-1"))
            refused = await http.get("/orders/o-1:watch", headers=bearer("c-1"))
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "5"
            assert refused.json()["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
            assert quota_subjects(refused.json()) == ["caller"]
            await held.enter_async_context(open_stream(http, "c-2"))  # another caller: still served
            refused = await http.get("/orders/o-1:watch", headers=bearer("c-3"))
            assert refused.status_code == 429 and quota_subjects(refused.json()) == ["process"]
            assert gw.streams.total == 3
            assert "oms_gateway_open_streams 3.0" in (await http.get("/metrics")).text
        # Disconnected clients give their slots back (and their upstream calls are cancelled).
        await slots_in_use(gw, 0)
        async with open_stream(http, "c-3"):
            assert gw.streams.total == 1
    watch_calls = [c for c in recorder.calls if c.method.endswith("/WatchOrder")]
    assert len(watch_calls) == 4  # refused streams never reached the upstream


async def test_a_stream_ends_cleanly_at_its_lifetime_whatever_grpc_timeout_says(
    upstreams: dict[str, Upstream], recorder: Recorder
) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, forever=True)
    async with gateway(upstreams, stream_max_lifetime_s=0.5, sse_keepalive_s=0.1) as (http, gw):
        started = time.monotonic()
        headers = bearer("c-1") | {"grpc-timeout": "1H"}
        response = await http.get("/orders/o-1:watch", headers=headers)
        assert time.monotonic() - started < 5
        assert response.status_code == 200
        assert "event: error" not in response.text  # a clean end: EventSource just reconnects
        assert response.text.startswith("data: ")
        # The upstream deadline was cut to the lifetime (plus a grace), not the hour asked for.
        remaining = recorder.last("WatchOrder").time_remaining
        assert remaining is not None and remaining < 10
        await asyncio.wait_for(recorder.cancelled.wait(), timeout=5)
        await slots_in_use(gw, 0)


async def test_a_stream_ends_with_an_error_event_when_its_token_expires(
    upstreams: dict[str, Upstream], recorder: Recorder
) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, forever=True)
    async with gateway(upstreams) as (http, gw):
        started = time.monotonic()
        response = await http.get("/orders/o-1:watch", headers=bearer("c-1", ttl_s=2))
        assert time.monotonic() - started < 6
        blocks = [b for b in response.text.split("\n\n") if b.startswith("event: error")]
        assert len(blocks) == 1, response.text
        status = json.loads(blocks[0].split("data: ", 1)[1])
        assert status["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]
        assert "token expired" in status["message"]
        await slots_in_use(gw, 0)


async def test_an_upstream_quota_error_is_429_with_retry_after(
    upstreams: dict[str, Upstream], recorder: Recorder
) -> None:
    async def exhausted(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        delay = duration_pb2.Duration(seconds=3, nanos=200_000_000)
        details = [error_details_pb2.RetryInfo(retry_delay=delay)]
        code = grpc.StatusCode.RESOURCE_EXHAUSTED
        await context.abort(code, "too many streams", trailing_metadata=rich_abort_metadata(code, "too many", details))
        yield  # pragma: no cover - makes this a generator

    recorder.behaviors["WatchOrder"] = exhausted
    async with gateway(upstreams) as (http, gw):
        refused = await http.get("/orders/o-1:watch", headers=bearer("c-1"))
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "4"  # whole seconds, rounded up
        await slots_in_use(gw, 0)


async def test_with_auth_disabled_callers_are_told_apart_by_address(
    upstreams: dict[str, Upstream], recorder: Recorder
) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, forever=True)
    app = create_app(settings_for(upstreams, max_streams_per_principal=1), AuthSettings(enabled=False))
    async with (
        app.lifespan(),
        serve(app) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        http.stream("GET", "/orders/o-1:watch") as first,
    ):
        assert first.status_code == 200
        second = await http.get("/orders/o-1:watch")
        assert second.status_code == 429  # everyone is the synthetic admin: counted by address
