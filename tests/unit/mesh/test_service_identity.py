"""mesh.auth.service_identity: a service calls internal RPCs with a token of its own."""

from __future__ import annotations

import time

import grpc
import pytest

from mesh.auth.authorization import rules
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.minting import mint_token
from mesh.auth.principal import current_principal
from mesh.auth.service_identity import ServiceToken, service_channel, with_service_token
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import TokenVerifier
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc

SETTINGS = AuthSettings(jwt_secret="unit-test-secret-that-is-long-enough-for-hs256", jwks=None)


def test_a_minted_service_token_verifies_with_the_service_role_and_is_renewed() -> None:
    now = [time.time()]
    token = ServiceToken(SETTINGS, "order_svc", ttl_s=600, clock=lambda: now[0])
    first = token.header()
    assert first is not None and first.startswith("Bearer ")
    principal = TokenVerifier(SETTINGS).verify(first.removeprefix("Bearer "))
    assert (principal.id, principal.roles) == ("order_svc", frozenset({"service"}))
    now[0] += 299
    assert token.header() == first  # reused while young
    now[0] += 2
    assert token.header() != first  # renewed halfway through its life


def test_a_configured_service_token_wins_and_none_means_forward_the_callers() -> None:
    configured = ServiceToken(AuthSettings(jwt_secret=None, service_token="issued.by.idp", jwks=None), "order_svc")
    assert configured.header() == "Bearer issued.by.idp"
    nothing = ServiceToken(AuthSettings(jwt_secret=None, jwks=None), "order_svc")
    assert nothing.header() is None
    caller = (("authorization", "Bearer caller"), ("x-request-id", "r-1"))
    assert with_service_token(caller, nothing) == caller


def test_the_callers_token_is_replaced_and_the_rest_kept() -> None:
    token = ServiceToken(SETTINGS, "order_svc")
    sent = with_service_token((("authorization", "Bearer customer"), ("x-request-id", "r-1")), token)
    assert sent is not None
    assert [key for key, _ in sent] == ["x-request-id", "authorization"]
    assert dict(sent)["authorization"] == token.header()


class Inventory(inventory_pb2_grpc.InventoryServiceServicer):
    async def CheckStock(
        self, request: inventory_pb2.CheckStockRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.CheckStockResponse:
        principal = current_principal()
        assert principal is not None
        return inventory_pb2.CheckStockResponse(unknown_product_ids=[principal.id])


async def test_internal_rpcs_accept_the_service_channel_and_refuse_the_customer() -> None:
    server = grpc.aio.server(interceptors=[AuthServerInterceptor(TokenVerifier(SETTINGS), rules())])
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(Inventory(), server)  # type: ignore[abstract]
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    customer = (("authorization", f"Bearer {mint_token('c-1', ['customer'], SETTINGS)}"),)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await inventory_pb2_grpc.InventoryServiceStub(plain).CheckStock(
                    inventory_pb2.CheckStockRequest(product_ids=["p"]), metadata=customer
                )
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
            stub = inventory_pb2_grpc.InventoryServiceStub(service_channel(plain, SETTINGS, "order_svc"))
            # The order service forwards its caller's metadata; the token in it is replaced.
            reply = await stub.CheckStock(inventory_pb2.CheckStockRequest(product_ids=["p"]), metadata=customer)
            assert list(reply.unknown_product_ids) == ["order_svc"]
    finally:
        await server.stop(None)
