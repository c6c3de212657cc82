"""gRPC status → HTTP status and Status JSON; the gateway's own 400s in the same shape."""

from __future__ import annotations

import time
from typing import Any

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2

from gateway import handler
from gateway.app import GatewayApp, create_app
from gateway.settings import GatewaySettings
from tests.unit.gateway.conftest import AUTH, Recorder, Upstream, rich_abort_metadata, settings_for

CODES = [
    (grpc.StatusCode.NOT_FOUND, 404),
    (grpc.StatusCode.INVALID_ARGUMENT, 400),
    (grpc.StatusCode.OUT_OF_RANGE, 400),
    (grpc.StatusCode.FAILED_PRECONDITION, 400),
    (grpc.StatusCode.ALREADY_EXISTS, 409),
    (grpc.StatusCode.ABORTED, 409),
    (grpc.StatusCode.UNAUTHENTICATED, 401),
    (grpc.StatusCode.PERMISSION_DENIED, 403),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    (grpc.StatusCode.UNAVAILABLE, 503),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    (grpc.StatusCode.UNIMPLEMENTED, 501),
    (grpc.StatusCode.CANCELLED, 499),
    (grpc.StatusCode.INTERNAL, 500),
    (grpc.StatusCode.UNKNOWN, 500),
    (grpc.StatusCode.DATA_LOSS, 500),
]


@pytest.mark.parametrize(("code", "http_status"), CODES)
async def test_grpc_codes_map_to_http_statuses(
    client: httpx.AsyncClient, recorder: Recorder, code: grpc.StatusCode, http_status: int
) -> None:
    async def fail(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, f"it went {code.name}")

    recorder.behaviors["GetOrder"] = fail
    response = await client.get("/orders/o-1")
    assert response.status_code == http_status
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": code.value[0], "message": f"it went {code.name}", "details": []}


async def test_rich_status_details_reach_the_client(client: httpx.AsyncClient, recorder: Recorder) -> None:
    details = [
        error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field="items[0].quantity", description="1..1000")
            ]
        ),
        error_details_pb2.ErrorInfo(reason="QUANTITY_OUT_OF_RANGE", domain="oms", metadata={"max": "1000"}),
        error_details_pb2.PreconditionFailure(
            violations=[error_details_pb2.PreconditionFailure.Violation(type="STATE", subject="o-1", description="x")]
        ),
    ]

    async def fail(request: Any, context: grpc.aio.ServicerContext) -> Any:
        metadata = rich_abort_metadata(grpc.StatusCode.INVALID_ARGUMENT, "bad items", details)
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad items", trailing_metadata=metadata)

    recorder.behaviors["PlaceOrder"] = fail
    response = await client.post("/orders", json={"customerId": "c-1"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == 3 and body["message"] == "bad items"
    assert body["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            # Unpopulated fields are printed, as in every message (OMS_GATEWAY_EMIT_UNPOPULATED).
            "fieldViolations": [{"field": "items[0].quantity", "description": "1..1000", "reason": ""}],
        },
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "QUANTITY_OUT_OF_RANGE",
            "domain": "oms",
            "metadata": {"max": "1000"},
        },
        {
            "@type": "type.googleapis.com/google.rpc.PreconditionFailure",
            "violations": [{"type": "STATE", "subject": "o-1", "description": "x"}],
        },
    ]


def violation(response: httpx.Response) -> str | None:
    for detail in response.json()["details"]:
        if detail["@type"].endswith("BadRequest"):
            return str(detail["fieldViolations"][0]["field"])
    return None


@pytest.mark.parametrize(
    ("content", "message", "field"),
    [
        (b'{"customerId": ', "malformed JSON", None),
        (b"[1, 2]", "JSON object", None),
        (b'{"customerId": "c", "colour": "red"}', "unknown field", "colour"),
        (b'{"items": [{"productId": "p", "flavour": 1}]}', "unknown field", "items[0].flavour"),
        (b'{"customerId": 5}', "invalid value", "customer_id"),
        (b'{"items": [{"quantity": "many"}]}', "invalid value", "items[0].quantity"),
        (b'{"items": [{"productId": "p"}, {"quantity": 99999999999}]}', "invalid value", "items[1].quantity"),
        (b"\xff\xfe", "malformed JSON", None),
    ],
)
async def test_bad_bodies_are_400_with_the_field_named(
    client: httpx.AsyncClient, recorder: Recorder, content: bytes, message: str, field: str | None
) -> None:
    response = await client.post("/orders", content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == 3
    assert message in response.json()["message"]
    assert violation(response) == field
    assert not recorder.calls, "a bad request must not reach the service"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"pageSize": "ten"}, "page_size"), ({"status": "LOST"}, "status"), ({"colour": "red"}, "colour")],
)
async def test_bad_query_parameters_are_400(client: httpx.AsyncClient, params: dict[str, str], field: str) -> None:
    response = await client.get("/orders", params=params)
    assert response.status_code == 400, response.text
    assert violation(response) == field


async def test_oversized_bodies_are_refused(upstreams: dict[str, Upstream], recorder: Recorder) -> None:
    app = create_app(settings_for(upstreams, max_body_bytes=64), AUTH)
    async with app.lifespan(), _client(app) as client:
        big = {"customerId": "c" * 100}
        declared = await client.post("/orders", json=big)
        assert declared.status_code == 400
        assert "exceeds the limit of 64 bytes" in declared.json()["message"]

        async def chunks() -> Any:  # no Content-Length: the limit holds while streaming
            for _ in range(10):
                yield b" " * 16

        streamed = await client.post("/orders", content=chunks())
        assert streamed.status_code == 400
        assert (await client.post("/orders", json={"customerId": "c"})).status_code == 200
    assert len(recorder.calls) == 1


def _client(app: GatewayApp) -> httpx.AsyncClient:
    from tests.unit.gateway.conftest import token

    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gw.test",
        headers={"authorization": f"Bearer {token()}"},
    )


async def test_a_dead_upstream_is_a_fast_503(upstreams: dict[str, Upstream]) -> None:
    await upstreams["inventory"].server.stop(None)
    settings: GatewaySettings = settings_for(upstreams)
    app = create_app(settings, AUTH)
    async with app.lifespan(), _client(app) as client:
        started = time.monotonic()
        response = await client.get("/products/p-1")
        assert response.status_code == 503
        assert response.json()["code"] == 14
        assert time.monotonic() - started < 2.0, "a dead upstream must not hang the request"
        assert (await client.get("/orders/o-1")).status_code == 200, "other upstreams are unaffected"


async def test_a_gateway_bug_is_a_500_status_with_an_incident_id(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret detail: SELECT * FROM orders")

    monkeypatch.setattr(handler, "to_json_dict", broken)
    response = await client.get("/orders/o-1")
    assert response.status_code == 500
    status = response.json()
    assert status["code"] == 13 and status["message"].startswith("internal error (incident ")
    assert "SELECT" not in response.text, "a bug's text stays in the log"
    assert response.headers["x-request-id"]
    incident = status["message"].removeprefix("internal error (incident ").rstrip(")")
    assert any(getattr(r, "incident", None) == incident for r in caplog.records)
