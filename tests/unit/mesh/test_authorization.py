"""mesh.auth.authorization: every RPC's declared rule, and the interceptor that enforces it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from mesh.auth.authorization import Access, Denied, Rule, rules, validate_owner_fields
from mesh.auth.interceptor import AuthServerInterceptor
from mesh.auth.minting import mint_token
from mesh.auth.principal import ANONYMOUS, Principal, current_principal
from mesh.auth.settings import AuthSettings
from mesh.auth.verification import TokenVerifier
from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.order.v1 import customer_pb2, order_pb2, order_pb2_grpc

SETTINGS = AuthSettings(jwt_secret="unit-test-secret-that-is-long-enough-for-hs256", jwks=None)
CUSTOMER = Principal("c-1", frozenset({"customer"}))
ADMIN = Principal("a-1", frozenset({"admin"}))
SERVICE = Principal("order_svc", frozenset({"service"}))


def test_every_rpc_in_the_descriptors_declares_a_rule() -> None:
    declared = rules()
    assert len(declared) >= 20  # the walk found the services at all
    undeclared = sorted(path for path, rule in declared.items() if rule.access is Access.UNSPECIFIED)
    assert not undeclared, f"add (oms.options.v1.authorization) to: {undeclared}"
    assert not validate_owner_fields(declared.values())


def test_catalog_reads_are_public_and_changes_are_admin() -> None:
    declared = rules()
    inventory = "/oms.inventory.v1.InventoryService/"
    for name in ("ListProducts", "GetProduct", "GetStock"):
        assert declared[inventory + name].access is Access.PUBLIC
    for name in ("CreateProduct", "UpdateProduct", "DeleteProduct", "AddStock", "AuditStock"):
        assert declared[inventory + name].access is Access.ADMIN
    assert declared[inventory + "CheckStock"].access is Access.INTERNAL
    assert declared["/oms.order.v1.CustomerService/ListCustomers"].access is Access.ADMIN
    assert declared["/oms.notify.v1.NotificationService/ListNotifications"].owner_field == "customer_id"


def test_a_bad_owner_field_is_reported() -> None:
    bad = [
        Rule("/oms.order.v1.OrderService/PlaceOrder", Access.CUSTOMER, "items"),
        Rule("/oms.order.v1.OrderService/PlaceOrder", Access.CUSTOMER, "no_such_field"),
        Rule("/oms.order.v1.OrderService/PlaceOrder", Access.ADMIN, "customer_id"),
    ]
    assert len(validate_owner_fields(bad)) == 3


@pytest.mark.parametrize(
    ("access", "allowed"),
    [
        (Access.PUBLIC, {"anonymous", "customer", "admin", "service"}),
        (Access.CUSTOMER, {"customer", "admin", "service"}),
        (Access.ADMIN, {"admin"}),
        (Access.INTERNAL, {"admin", "service"}),
        (Access.UNSPECIFIED, set()),
    ],
)
def test_who_passes_each_access(access: Access, allowed: set[str]) -> None:
    principals = {"anonymous": ANONYMOUS, "customer": CUSTOMER, "admin": ADMIN, "service": SERVICE}
    rule = Rule("/x.Y/Z", access)
    passed = set()
    for name, principal in principals.items():
        try:
            rule.check(principal)
            passed.add(name)
        except Denied:
            pass
    assert passed == allowed


def test_owner_field_keeps_customers_to_themselves_even_when_nested() -> None:
    rule = Rule("/oms.order.v1.CustomerService/UpdateCustomer", Access.CUSTOMER, "customer.customer_id")
    mine = customer_pb2.UpdateCustomerRequest(customer=customer_pb2.Customer(customer_id="c-1"))
    theirs = customer_pb2.UpdateCustomerRequest(customer=customer_pb2.Customer(customer_id="c-2"))
    rule.check(CUSTOMER, mine)
    rule.check(CUSTOMER, customer_pb2.UpdateCustomerRequest())  # unset: the use case decides
    rule.check(ADMIN, theirs)
    with pytest.raises(Denied, match=r"customer\.customer_id"):
        rule.check(CUSTOMER, theirs)


class Orders(order_pb2_grpc.OrderServiceServicer):
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def ListOrders(
        self, request: order_pb2.ListOrdersRequest, context: grpc.aio.ServicerContext
    ) -> order_pb2.ListOrdersResponse:
        self.calls.append(request.customer_id)
        return order_pb2.ListOrdersResponse()


class Inventory(inventory_pb2_grpc.InventoryServiceServicer):
    async def GetProduct(
        self, request: inventory_pb2.GetProductRequest, context: grpc.aio.ServicerContext
    ) -> inventory_pb2.GetProductResponse:
        principal = current_principal()
        assert principal is not None
        return inventory_pb2.GetProductResponse(product=inventory_pb2.Product(product_id=principal.id or "anonymous"))


async def _serve(method_rules: Mapping[str, Rule] | None) -> tuple[grpc.aio.Server, int, Orders]:
    server = grpc.aio.server(
        interceptors=[AuthServerInterceptor(TokenVerifier(SETTINGS), rules() if method_rules is None else method_rules)]
    )
    orders = Orders()  # type: ignore[abstract]
    order_pb2_grpc.add_OrderServiceServicer_to_server(orders, server)
    inventory_pb2_grpc.add_InventoryServiceServicer_to_server(Inventory(), server)  # type: ignore[abstract]
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port, orders


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[grpc.aio.Channel, Orders]]:
    server, port, orders = await _serve(getattr(request, "param", None))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel, orders
    await server.stop(None)


def bearer(subject: str, *roles: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {mint_token(subject, roles, SETTINGS)}"),)


async def test_a_public_rpc_answers_without_a_token_and_knows_the_principal_with_one(
    served: tuple[grpc.aio.Channel, Orders],
) -> None:
    stub = inventory_pb2_grpc.InventoryServiceStub(served[0])
    anonymous = await stub.GetProduct(inventory_pb2.GetProductRequest(product_id="p"))
    assert anonymous.product.product_id == "anonymous"
    known = await stub.GetProduct(inventory_pb2.GetProductRequest(product_id="p"), metadata=bearer("c-5", "customer"))
    assert known.product.product_id == "c-5"


async def test_another_customers_id_in_the_owner_field_is_refused_before_the_handler(
    served: tuple[grpc.aio.Channel, Orders],
) -> None:
    channel, orders = served
    stub = order_pb2_grpc.OrderServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ListOrders(order_pb2.ListOrdersRequest(customer_id="c-2"), metadata=bearer("c-1", "customer"))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert orders.calls == []  # the handler never ran
    await stub.ListOrders(order_pb2.ListOrdersRequest(customer_id="c-1"), metadata=bearer("c-1", "customer"))
    await stub.ListOrders(order_pb2.ListOrdersRequest(customer_id="c-2"), metadata=bearer("a-1", "admin"))
    assert orders.calls == ["c-1", "c-2"]


@pytest.mark.parametrize("served", [{}], indirect=True)
async def test_a_method_without_a_rule_is_refused_but_health_stays_public(
    served: tuple[grpc.aio.Channel, Orders],
) -> None:
    channel, orders = served
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await order_pb2_grpc.OrderServiceStub(channel).ListOrders(
            order_pb2.ListOrdersRequest(), metadata=bearer("a-1", "admin")
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "declares no authorization rule" in (refused.value.details() or "")
    assert orders.calls == []
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
