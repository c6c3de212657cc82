"""/healthz, authentication at the gateway, public endpoints and metrics."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import grpc
import httpx
import jwt
import pytest
from grpc_health.v1 import health_pb2

from tests.unit.gateway.conftest import Recorder, Upstream, token


async def test_healthz_is_200_when_every_upstream_serves(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"authorization": ""})
    assert response.status_code == 200
    assert {name: u["status"] for name, u in response.json()["upstreams"].items()} == {
        "order": "SERVING",
        "inventory": "SERVING",
        "notify": "SERVING",
    }


async def test_healthz_is_503_naming_the_upstream_not_serving(
    client: httpx.AsyncClient, upstreams: dict[str, Upstream]
) -> None:
    await upstreams["notify"].health.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["notify"]
    # The gateway's channels check health client-side (round robin over healthy replicas): an
    # upstream whose every replica reports NOT_SERVING has no replica to ask, hence UNAVAILABLE.
    assert "notify (UNAVAILABLE)" in response.json()["message"]
    await upstreams["inventory"].server.stop(None)
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["inventory", "notify"]


def tampered() -> str:
    header, payload, signature = token("c-1", ("customer",)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def unsigned() -> str:
    claims = {"sub": "a-1", "roles": ["admin"], "aud": "oms", "iss": "oms-local", "exp": int(time.time()) + 60}
    return jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]


BAD_AUTHORIZATION = {
    "missing": None,
    "not bearer": "Basic YTpi",
    "expired": f"Bearer {token(now=time.time() - 7200, ttl_s=60)}",
    "wrong audience": f"Bearer {token(extra_claims={'aud': 'billing'})}",
    "wrong issuer": f"Bearer {token(extra_claims={'iss': 'someone-else'})}",
    "alg none": f"Bearer {unsigned()}",
    "tampered": f"Bearer {tampered()}",
}


@pytest.mark.parametrize("case", sorted(BAD_AUTHORIZATION))
async def test_bad_credentials_are_401_and_never_reach_the_service(
    client: httpx.AsyncClient, recorder: Recorder, case: str
) -> None:
    value = BAD_AUTHORIZATION[case]
    client.headers.pop("authorization")
    response = await client.get("/orders/o-1", headers={"authorization": value} if value else {})
    assert response.status_code == 401, response.text
    assert response.json()["code"] == 16
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert not recorder.calls


async def test_the_service_decides_roles_and_its_denial_is_403(client: httpx.AsyncClient, recorder: Recorder) -> None:
    async def deny(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "requires the 'admin' role")

    recorder.behaviors["CreateProduct"] = deny
    customer = {"authorization": f"Bearer {token('c-1', ('customer',))}"}
    response = await client.post("/products", json={"name": "x"}, headers=customer)
    assert response.status_code == 403
    assert recorder.last("CreateProduct").metadata["authorization"] == customer["authorization"]


@pytest.mark.parametrize("path", ["/healthz", "/openapi.json", "/docs", "/metrics"])
async def test_operational_endpoints_need_no_token(client: httpx.AsyncClient, path: str) -> None:
    client.headers.pop("authorization")
    assert (await client.get(path)).status_code == 200


async def test_metrics_count_requests_per_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/orders/o-1")
    await client.get("/orders/o-2")
    await client.get("/orders/o-3:watch", headers={"accept": "application/x-ndjson"})
    client.headers.pop("authorization")
    await client.get("/orders/o-4")
    text = (await client.get("/metrics")).text
    assert 'oms_gateway_requests_total{method="GET",route="/orders/{order_id}",status="200"} 2.0' in text
    assert 'oms_gateway_request_errors_total{method="GET",route="/orders/{order_id}",status="401"} 1.0' in text
    assert 'oms_gateway_request_duration_seconds_count{method="GET",route="/orders/{order_id}:watch"} 1.0' in text
    assert "o-1" not in text, "concrete paths must not become label values"
