"""WatchOrder over HTTP: Server-Sent Events, NDJSON, errors, and client disconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from gateway.app import create_app
from oms.order.v1 import order_pb2
from tests.unit.gateway.conftest import AUTH, Recorder, Upstream, serve, settings_for, token


def watch(versions: int, then: grpc.StatusCode | None = None, forever: bool = False) -> Any:
    async def behavior(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        for version in range(1, versions + 1):
            yield order_pb2.WatchOrderResponse(order=order_pb2.Order(order_id=request.order_id, version=version))
        if then is not None:
            await context.abort(then, "order went away")
        if forever:
            await asyncio.Event().wait()

    return behavior


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n") if not line.startswith(":"))
        if "data" in fields:
            events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


async def test_watch_streams_server_sent_events(client: httpx.AsyncClient, recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(3)
    response = await client.get("/orders/o-1:watch", headers={"accept": "text/event-stream"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert [(kind, data["order"]["version"]) for kind, data in events] == [
        ("message", "1"),
        ("message", "2"),
        ("message", "3"),
    ]
    assert recorder.last("WatchOrder").request.order_id == "o-1"


async def test_an_error_mid_stream_is_an_error_event(client: httpx.AsyncClient, recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, then=grpc.StatusCode.NOT_FOUND)
    response = await client.get("/orders/o-1:watch")
    events = sse_events(response.text)
    assert events[0][0] == "message"
    assert events[1] == ("error", {"code": 5, "message": "order went away", "details": []})


async def test_an_error_before_the_first_message_is_an_http_error(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    recorder.behaviors["WatchOrder"] = watch(0, then=grpc.StatusCode.NOT_FOUND)
    response = await client.get("/orders/o-missing:watch")
    assert response.status_code == 404
    assert response.json()["code"] == 5


async def test_ndjson_when_asked(client: httpx.AsyncClient, recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(2, then=grpc.StatusCode.ABORTED)
    response = await client.get("/orders/o-2:watch", headers={"accept": "application/x-ndjson"})
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["result"]["order"]["version"] for line in lines[:2]] == ["1", "2"]
    assert lines[2] == {"error": {"code": 10, "message": "order went away", "details": []}}


async def test_an_event_source_can_pass_its_token_in_the_query(served: str, recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(1)
    async with httpx.AsyncClient(base_url=served) as http:
        refused = await http.get("/orders/o-1:watch")
        assert refused.status_code == 401
        response = await http.get("/orders/o-1:watch", params={"access_token": token("c-1", ("customer",))})
    assert response.status_code == 200
    assert str(recorder.last("WatchOrder").metadata["authorization"]).startswith("Bearer ")


@pytest.mark.timeout(30)
async def test_a_client_disconnect_cancels_the_upstream_call(served: str, recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, forever=True)
    headers = {"authorization": f"Bearer {token()}", "accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(base_url=served, headers=headers) as http,
        http.stream("GET", "/orders/o-9:watch") as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                assert json.loads(line[6:])["order"]["orderId"] == "o-9"
                break
    # The stream is closed: the fake's generator must be cancelled, within a deadline.
    await asyncio.wait_for(recorder.cancelled.wait(), timeout=10)


async def test_idle_event_streams_get_keepalive_comments(upstreams: dict[str, Upstream], recorder: Recorder) -> None:
    recorder.behaviors["WatchOrder"] = watch(1, forever=True)
    app = create_app(settings_for(upstreams, sse_keepalive_s=0.05), AUTH)
    # A real socket: httpx's in-process transport waits for an endless app to finish on close.
    async with app.lifespan(), serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        headers = {"authorization": f"Bearer {token()}"}
        async with http.stream("GET", "/orders/o-3:watch", headers=headers) as response:
            lines = response.aiter_lines()
            seen = [await asyncio.wait_for(anext(lines), 5) for _ in range(4)]
    assert seen[0].startswith("data: ")
    assert ": keepalive" in seen[2:]
