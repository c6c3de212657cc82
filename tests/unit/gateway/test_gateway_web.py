"""The web front end as the gateway serves it, and the development sign-in (dev only)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from gateway.app import GatewayApp, create_app
from gateway.web import ASSET_CACHE
from mesh.auth.settings import AuthSettings
from mesh.settings.common import DeploymentSettings
from tests.unit.gateway.conftest import AUTH, SECRET, Upstream, settings_for, token

DEVELOPMENT = DeploymentSettings(env="development")
PRODUCTION = DeploymentSettings(env="production")


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A stand-in for web/dist: the two pages, an asset and the icon."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!DOCTYPE html><title>shop</title>")
    (tmp_path / "admin.html").write_text("<!DOCTYPE html><title>back office</title>")
    (tmp_path / "assets" / "shop-abc123.js").write_text("export {};")
    (tmp_path / "assets" / "shop-abc123.css").write_text("body{}")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    return tmp_path


def _jwks_file(directory: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk | {"kid": "idp-1", "use": "sig", "alg": "RS256"}]}))
    return path


async def _client(app: GatewayApp) -> AsyncIterator[httpx.AsyncClient]:
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 4567))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as http:
            yield http


@pytest.fixture
async def web(upstreams: dict[str, Upstream], dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(create_app(settings_for(upstreams, web_dist=dist), AUTH, deployment=DEVELOPMENT)):
        yield http


@pytest.mark.parametrize(
    ("path", "title"),
    [("/", "shop"), ("/shop", "shop"), ("/shop/orders/o-1", "shop"), ("/admin", "back office")],
)
async def test_pages_are_served_revalidated_and_locked_down(web: httpx.AsyncClient, path: str, title: str) -> None:
    reply = await web.get(path)
    assert reply.status_code == 200
    assert f"<title>{title}</title>" in reply.text
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["cache-control"] == "no-cache"
    csp = reply.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert reply.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "media_type"), [("shop-abc123.js", "text/javascript"), ("shop-abc123.css", "text/css")]
)
async def test_assets_have_their_content_type_and_are_cached_for_good(
    web: httpx.AsyncClient, name: str, media_type: str
) -> None:
    reply = await web.get(f"/assets/{name}")
    assert reply.status_code == 200
    assert reply.headers["content-type"].split(";")[0] == media_type
    assert reply.headers["cache-control"] == ASSET_CACHE
    assert reply.headers["x-content-type-options"] == "nosniff"


async def test_a_missing_asset_is_404_not_the_page(web: httpx.AsyncClient) -> None:
    reply = await web.get("/assets/nope-123.js")
    assert reply.status_code == 404
    assert "<title>" not in reply.text


async def test_the_api_routes_beside_the_pages_still_answer(
    web: httpx.AsyncClient, upstreams: dict[str, Upstream]
) -> None:
    # /admin is the back office's, /admin/<service>/... stays the API's; /products is the API's.
    headers = {"authorization": f"Bearer {token()}"}
    assert (await web.get("/admin/order/dead-letters", headers=headers)).status_code == 200
    products = await web.get("/products")
    assert products.status_code == 200
    assert products.headers["content-type"].startswith("application/json")
    assert (await web.get("/openapi.json")).status_code == 200
    assert (await web.get("/docs")).status_code == 200
    unknown = await web.get("/admin/nothing-here")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("application/json")


async def test_an_unbuilt_front_end_says_how_to_build_it(upstreams: dict[str, Upstream], tmp_path: Path) -> None:
    app = create_app(settings_for(upstreams, web_dist=tmp_path / "missing"), AUTH, deployment=DEVELOPMENT)
    async for http in _client(app):
        reply = await http.get("/")
        assert reply.status_code == 503
        assert "npm run build" in reply.text


async def test_dev_sign_in_issues_tokens_the_gateway_accepts(web: httpx.AsyncClient) -> None:
    options = await web.get("/auth/dev-sign-in")
    assert options.status_code == 200
    assert "c-demo-ada" in options.json()["demoCustomers"]

    customer = await web.post("/auth/dev-sign-in", json={"role": "customer", "customerId": "c-demo-grace"})
    assert customer.status_code == 200, customer.text
    claims = jwt.decode(customer.json()["token"], SECRET, algorithms=["HS256"], audience=AUTH.audience)
    assert claims["sub"] == "c-demo-grace" and claims["roles"] == ["customer"]
    assert customer.headers["cache-control"] == "no-store"
    orders = await web.get("/orders", headers={"authorization": f"Bearer {customer.json()['token']}"})
    assert orders.status_code == 200, orders.text

    admin = await web.post("/auth/dev-sign-in", json={"role": "admin"})
    assert admin.json()["subject"] == "admin-1" and admin.json()["roles"] == ["admin"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "root"}, "role"),
        ({"role": "customer", "customerId": ""}, "customerId"),
        ({"role": "customer", "customerId": "x" * 129}, "customerId"),
        ({"role": "customer", "customerId": "../etc"}, "customerId"),
        ({"role": "customer", "customerId": 7}, "customerId"),
    ],
)
async def test_dev_sign_in_refuses_what_is_not_a_demo_identity(
    web: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    reply = await web.post("/auth/dev-sign-in", json=body)
    assert reply.status_code == 400
    violations = reply.json()["details"][0]["fieldViolations"]
    assert violations[0]["field"] == field


@pytest.mark.parametrize("body", [b"[1]", b"not json", b"{" * 5000])
async def test_dev_sign_in_refuses_a_malformed_body(web: httpx.AsyncClient, body: bytes) -> None:
    reply = await web.post("/auth/dev-sign-in", content=body)
    assert reply.status_code == 400
    assert reply.json()["code"] == 3


@pytest.mark.parametrize(
    ("auth", "deployment"),
    [
        (AuthSettings(jwt_secret=SECRET + "-production-grade", jwks=None), PRODUCTION),
        (AuthSettings(enabled=False), DEVELOPMENT),
        (AuthSettings(jwt_secret=None, jwks="JWKS"), DEVELOPMENT),
    ],
    ids=["production", "auth-disabled", "identity-provider-only"],
)
async def test_there_is_no_dev_sign_in_outside_development(
    upstreams: dict[str, Upstream], dist: Path, auth: AuthSettings, deployment: DeploymentSettings, tmp_path: Path
) -> None:
    if auth.jwks == "JWKS":  # a real identity provider's keys, and no secret of the gateway's
        auth = auth.model_copy(update={"jwks": str(_jwks_file(tmp_path))})
    app = create_app(settings_for(upstreams, web_dist=dist), auth, deployment=deployment)
    async for http in _client(app):
        for method in ("GET", "POST"):
            reply = await http.request(method, "/auth/dev-sign-in", json={"role": "admin"})
            assert reply.status_code == 404, (method, reply.text)
            assert "token" not in reply.text
        assert (await http.get("/")).status_code == 200  # the pages are there all the same
