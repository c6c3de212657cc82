"""mesh.auth: token verification and the gRPC server interceptor."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from mesh.auth.authorization import rules
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.minting import mint_token
from mesh.auth.principal import SYNTHETIC_ADMIN, Principal, current_principal
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import AuthError, TokenVerifier
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.order.v1 import order_pb2, order_pb2_grpc

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"
SETTINGS = AuthSettings(jwt_secret=SECRET, jwks=None)


def bad_tokens() -> dict[str, str]:
    """Every way a token must be refused, each with the reason the verifier should give."""
    good = mint_token("c-1", ["customer"], SETTINGS)
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    none_token = jwt.encode(
        {"sub": "c-1", "aud": "oms", "iss": "oms-local", "exp": int(time.time()) + 60},
        None,  # type: ignore[arg-type]
        algorithm="none",
    )
    return {
        "expired": mint_token("c-1", ["customer"], SETTINGS, now=time.time() - 7200, ttl_s=60),
        "audience": mint_token("c-1", [], AuthSettings(jwt_secret=SECRET, audience="x")),
        "issuer": mint_token("c-1", [], AuthSettings(jwt_secret=SECRET, issuer="evil")),
        "algorithm": none_token,
        "signature": f"{header}.{forged}.{signature}",
        "other-secret": mint_token("c-1", [], AuthSettings(jwt_secret="another-secret-that-is-long-enough-for-hs256")),
        "malformed": "not-a-jwt",
    }


def test_a_valid_token_yields_its_principal() -> None:
    token = mint_token("c-42", ["customer"], SETTINGS)
    principal = TokenVerifier(SETTINGS).verify_authorization(f"Bearer {token}")
    assert principal == Principal(id="c-42", roles=frozenset({"customer"}))
    assert not principal.is_admin


def test_a_verified_token_is_served_from_the_cache_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(SETTINGS)
    now = time.time()
    token = mint_token("c-7", ["customer"], SETTINGS, now=now, ttl_s=60)
    assert verifier.verify(token).id == "c-7"
    decode_calls = 0
    real_decode = jwt.decode

    def counting_decode(*args: object, **kwargs: object) -> object:
        nonlocal decode_calls
        decode_calls += 1
        return real_decode(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jwt, "decode", counting_decode)
    assert verifier.verify_authorization(f"Bearer {token}").id == "c-7"
    assert decode_calls == 0, "the second check of the same token must not redo the crypto"
    # Past exp + leeway the cached entry is not used: the token goes through the full check
    # again (which refuses an expired token; that part is test_bad_tokens_are_refused…).
    monkeypatch.setattr(time, "time", lambda: now + 60 + SETTINGS.leeway_s + 1)
    assert verifier.already_verified(f"Bearer {token}") is None
    verifier.verify(token)  # PyJWT reads the real clock, to which the token is still valid
    assert decode_calls == 1


@pytest.mark.parametrize("name", ["expired", "signature", "algorithm"])
def test_a_refused_token_is_never_cached(name: str) -> None:
    verifier = TokenVerifier(SETTINGS)
    token = bad_tokens()[name]
    for _ in range(2):
        with pytest.raises(AuthError):
            verifier.verify(token)
    assert verifier.already_verified(f"Bearer {token}") is None


def test_the_cache_is_bounded_and_forgets_the_oldest_token_first() -> None:
    from mesh.auth.token_cache import VerifiedTokens

    cache = VerifiedTokens(leeway_s=0, capacity=2)
    claims = {"exp": time.time() + 60}
    for name in ("a", "b", "c"):
        cache.put(name, Principal(id=name), claims)
    assert len(cache) == 2
    assert cache.get("a") is None
    assert cache.get("c") == Principal(id="c")


def test_a_token_not_yet_valid_is_not_served_from_the_cache() -> None:
    from mesh.auth.token_cache import VerifiedTokens

    cache = VerifiedTokens(leeway_s=5)
    cache.put("t", Principal(id="x"), {"exp": time.time() + 600, "nbf": time.time() + 60})
    assert cache.get("t") is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("expired", "expired"),
        ("audience", "audience"),
        ("issuer", "issuer"),
        ("algorithm", "'none'"),
        ("signature", "signature"),
        ("other-secret", "signature"),
        ("malformed", "malformed"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(name: str, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        TokenVerifier(SETTINGS).verify(bad_tokens()[name])


def test_missing_or_non_bearer_authorization_is_refused() -> None:
    verifier = TokenVerifier(SETTINGS)
    with pytest.raises(AuthError, match="missing"):
        verifier.verify_authorization(None)
    with pytest.raises(AuthError, match="Bearer"):
        verifier.verify_authorization("Basic dXNlcjpwYXNz")


def test_none_is_never_an_allowed_algorithm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMS_AUTH_ALGORITHMS", "HS256,none")
    with pytest.raises(ValueError, match="none"):
        AuthSettings()


def test_disabled_auth_makes_everyone_a_synthetic_admin() -> None:
    verifier = TokenVerifier(AuthSettings(enabled=False))
    assert verifier.verify_authorization(None) is SYNTHETIC_ADMIN
    assert SYNTHETIC_ADMIN.is_admin


def test_rs256_tokens_verify_against_a_jwks_file_and_the_dev_secret_is_dropped(tmp_path: Path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    jwk.update(kid="k1", alg="RS256", use="sig")
    jwks_path = tmp_path / "jwks.json"
    jwks_path.write_text(json.dumps({"keys": [jwk]}))
    settings = AuthSettings(jwks=str(jwks_path))  # jwt_secret stays the public dev default
    assert settings.effective_algorithms() == ("RS256",)
    token = mint_token("a-1", ["admin"], settings, algorithm="RS256", key=private, kid="k1")
    assert TokenVerifier(settings).verify(token).is_admin
    dev_token = mint_token("a-1", ["admin"], AuthSettings())
    with pytest.raises(AuthError, match="not allowed"):
        TokenVerifier(settings).verify(dev_token)


def test_a_roles_claim_that_is_not_a_list_is_refused() -> None:
    token = mint_token("c-1", [], SETTINGS, extra_claims={"roles": "admin"})
    with pytest.raises(AuthError, match="roles"):
        TokenVerifier(SETTINGS).verify(token)


# --- the interceptor, in a real grpc.aio server --------------------------------------------


class FakeInventory(inventory_pb2_grpc.InventoryServiceServicer):
    """Echoes the principal the interceptor put in the context into the response."""

    async def GetProduct(
        self, request: inventory_pb2.GetProductRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.GetProductResponse:
        principal = current_principal()
        assert principal is not None
        return inventory_pb2.GetProductResponse(product=inventory_pb2.Product(product_id=principal.id))

    async def CreateProduct(
        self, request: inventory_pb2.CreateProductRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.CreateProductResponse:
        return inventory_pb2.CreateProductResponse(product=request.product)


class FakeOrders(order_pb2_grpc.OrderServiceServicer):
    async def WatchOrder(
        self, request: order_pb2.WatchOrderRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[order_pb2.WatchOrderResponse]:
        principal = current_principal()
        assert principal is not None
        yield order_pb2.WatchOrderResponse(order=order_pb2.Order(order_id=request.order_id, customer_id=principal.id))


@pytest.fixture
async def channel(request: pytest.FixtureRequest) -> AsyncIterator[grpc.aio.Channel]:
    settings: AuthSettings = getattr(request, "param", SETTINGS)
    server = grpc.aio.server(interceptors=[AuthServerInterceptor(TokenVerifier(settings), rules())])
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(FakeInventory(), server)  # type: ignore[abstract]
    order_pb2_grpc.add_OrderServiceServicer_to_server(FakeOrders(), server)  # type: ignore[abstract]
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan
    await server.stop(None)


def bearer(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def test_interceptor_passes_the_principal_to_the_handler(channel: grpc.aio.Channel) -> None:
    customer = f"c-{uuid.uuid4()}"
    stub = inventory_pb2_grpc.InventoryServiceStub(channel)
    reply = await stub.GetProduct(
        inventory_pb2.GetProductRequest(product_id="p"), metadata=bearer(mint_token(customer, ["customer"], SETTINGS))
    )
    assert reply.product.product_id == customer


async def test_interceptor_sets_the_principal_for_streaming_handlers(channel: grpc.aio.Channel) -> None:
    stub = order_pb2_grpc.OrderServiceStub(channel)
    call = stub.WatchOrder(
        order_pb2.WatchOrderRequest(order_id="o-1"), metadata=bearer(mint_token("c-9", ["customer"], SETTINGS))
    )
    replies = [reply async for reply in call]
    assert [r.order.customer_id for r in replies] == ["c-9"]


@pytest.mark.parametrize("name", sorted(bad_tokens()))
async def test_interceptor_refuses_bad_tokens(channel: grpc.aio.Channel, name: str) -> None:
    stub = inventory_pb2_grpc.InventoryServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetProduct(inventory_pb2.GetProductRequest(product_id="p"), metadata=bearer(bad_tokens()[name]))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_interceptor_refuses_a_missing_token(channel: grpc.aio.Channel) -> None:
    stub = order_pb2_grpc.OrderServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.WatchOrder(order_pb2.WatchOrderRequest(order_id="o")).read()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing bearer token" in (caught.value.details() or "")


async def test_a_customer_on_an_admin_method_is_permission_denied(channel: grpc.aio.Channel) -> None:
    stub = inventory_pb2_grpc.InventoryServiceStub(channel)
    request = inventory_pb2.CreateProductRequest(product=inventory_pb2.Product(product_id="p-1"))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateProduct(request, metadata=bearer(mint_token("c-1", ["customer"], SETTINGS)))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    reply = await stub.CreateProduct(request, metadata=bearer(mint_token("a-1", ["admin"], SETTINGS)))
    assert reply.product.product_id == "p-1"


async def test_health_is_public(channel: grpc.aio.Channel) -> None:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("channel", [AuthSettings(enabled=False)], indirect=True)
async def test_disabled_auth_lets_anonymous_callers_in_as_admin(channel: grpc.aio.Channel) -> None:
    stub = inventory_pb2_grpc.InventoryServiceStub(channel)
    reply = await stub.GetProduct(inventory_pb2.GetProductRequest(product_id="p"))
    assert reply.product.product_id == SYNTHETIC_ADMIN.id


def test_cli_prints_a_token_the_verifier_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    from mesh.cli import main

    assert main(["token", "--sub", "c-7", "--role", "customer", "--ttl", "120"]) == 0
    principal = TokenVerifier(AuthSettings()).verify(capsys.readouterr().out.strip())
    assert principal == Principal(id="c-7", roles=frozenset({"customer"}))
