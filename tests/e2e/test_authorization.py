"""Every RPC in the descriptors, as an anonymous caller, as customer A on customer B's
resources, and as an admin, against the real services (and the gateway for the anonymous case).

The RPCs come from the generated descriptors, not from a list here: a new RPC is walked the
day it is added, and fails until it declares an authorization rule and has an example request
in ``EXAMPLES``. A customer acting on another's resources must be refused (PERMISSION_DENIED or
NOT_FOUND) or get an answer that carries none of the other customer's data: every string in the
response, however deeply nested, is searched for B's customer id, email, order and notification
ids.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from google.protobuf import descriptor, field_mask_pb2, message_factory
from google.protobuf.message import Message

from gateway.descriptors import Method, bindings_of, upstream_of
from mesh.auth.authorization import Access, Rule, field_value, method_path, rule_of, services
from oms.inventory.v1 import inventory_pb2
from oms.notify.v1 import notify_pb2, webhooks_pb2
from oms.ops.v1 import ops_pb2
from oms.order.v1 import customer_pb2, order_pb2
from testkit.clients import unique
from testkit.infra import Infra
from testkit.processes import new_mesh
from testkit.wait import eventually
from tests.e2e.gateway_support import Stack, running_stack, status_body

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

REFUSED_FOR_OTHERS = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND}
AUTH_REFUSALS = {grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}


@dataclass
class World:
    """Two customers with an order each, B's notification, and products to act on."""

    a: str
    b: str
    b_order: str
    a_order: str
    b_notification: str
    product: str
    doomed_product: str  # the admin's DeleteProduct example removes it

    def b_secrets(self) -> set[str]:
        return {self.b, f"{self.b}@example.com", self.b_order, self.b_notification}


NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"

# Per RPC: the requests customer A sends against B's resources (the admin sends the same).
Example = Callable[[World], Message]
EXAMPLES: dict[str, list[Example]] = {
    "/oms.inventory.v1.InventoryService/ListProducts": [lambda w: inventory_pb2.ListProductsRequest()],
    "/oms.inventory.v1.InventoryService/GetProduct": [lambda w: inventory_pb2.GetProductRequest(product_id=w.product)],
    "/oms.inventory.v1.InventoryService/CreateProduct": [
        lambda w: inventory_pb2.CreateProductRequest(
            product=inventory_pb2.Product(
                product_id=unique("p"), name="Walked", active=True, price={"currency_code": "EUR", "units": 1}
            )
        )
    ],
    "/oms.inventory.v1.InventoryService/UpdateProduct": [
        lambda w: inventory_pb2.UpdateProductRequest(
            product=inventory_pb2.Product(product_id=w.product, name="Renamed"),
            update_mask=field_mask_pb2.FieldMask(paths=["name"]),
        )
    ],
    "/oms.inventory.v1.InventoryService/DeleteProduct": [
        lambda w: inventory_pb2.DeleteProductRequest(product_id=w.doomed_product)
    ],
    "/oms.inventory.v1.InventoryService/GetStock": [lambda w: inventory_pb2.GetStockRequest(product_id=w.product)],
    "/oms.inventory.v1.InventoryService/CheckStock": [
        lambda w: inventory_pb2.CheckStockRequest(product_ids=[w.product])
    ],
    "/oms.inventory.v1.InventoryService/AddStock": [
        lambda w: inventory_pb2.AddStockRequest(product_id=w.product, quantity=1)
    ],
    "/oms.inventory.v1.InventoryService/AuditStock": [
        lambda w: inventory_pb2.AuditStockRequest(product_id=w.product, quantity=50, expected_version=1, reason="walk")
    ],
    "/oms.notify.v1.NotificationService/ListNotifications": [
        lambda w: notify_pb2.ListNotificationsRequest(),
        lambda w: notify_pb2.ListNotificationsRequest(customer_id=w.b),
        lambda w: notify_pb2.ListNotificationsRequest(order_id=w.b_order),
    ],
    "/oms.notify.v1.NotificationService/RetryNotification": [
        lambda w: notify_pb2.RetryNotificationRequest(notification_id=w.b_notification)
    ],
    # Webhooks are the operator's: every RPC is admin only (ids that exist nowhere are NOT_FOUND for the admin).
    "/oms.notify.v1.WebhookService/CreateWebhookEndpoint": [
        lambda w: webhooks_pb2.CreateWebhookEndpointRequest(
            endpoint=webhooks_pb2.WebhookEndpoint(url="http://127.0.0.1:9/walk", description="walk")
        )
    ],
    "/oms.notify.v1.WebhookService/ListWebhookEndpoints": [lambda w: webhooks_pb2.ListWebhookEndpointsRequest()],
    "/oms.notify.v1.WebhookService/DisableWebhookEndpoint": [
        lambda w: webhooks_pb2.DisableWebhookEndpointRequest(endpoint_id=NO_SUCH_ID)
    ],
    "/oms.notify.v1.WebhookService/EnableWebhookEndpoint": [
        lambda w: webhooks_pb2.EnableWebhookEndpointRequest(endpoint_id=NO_SUCH_ID)
    ],
    "/oms.notify.v1.WebhookService/DeleteWebhookEndpoint": [
        lambda w: webhooks_pb2.DeleteWebhookEndpointRequest(endpoint_id=NO_SUCH_ID)
    ],
    "/oms.notify.v1.WebhookService/ListWebhookDeliveries": [
        lambda w: webhooks_pb2.ListWebhookDeliveriesRequest(),
        lambda w: webhooks_pb2.ListWebhookDeliveriesRequest(order_id=w.b_order),
    ],
    "/oms.notify.v1.WebhookService/RetryWebhookDelivery": [
        lambda w: webhooks_pb2.RetryWebhookDeliveryRequest(delivery_id=NO_SUCH_ID)
    ],
    "/oms.order.v1.CustomerService/CreateCustomer": [
        lambda w: customer_pb2.CreateCustomerRequest(
            customer=customer_pb2.Customer(customer_id=w.b, name="Not B", email="not-b@example.com")
        )
    ],
    "/oms.order.v1.CustomerService/GetCustomer": [lambda w: customer_pb2.GetCustomerRequest(customer_id=w.b)],
    "/oms.order.v1.CustomerService/UpdateCustomer": [
        lambda w: customer_pb2.UpdateCustomerRequest(
            customer=customer_pb2.Customer(customer_id=w.b, name="Renamed"),
            update_mask=field_mask_pb2.FieldMask(paths=["name"]),
        )
    ],
    "/oms.order.v1.CustomerService/ListCustomers": [lambda w: customer_pb2.ListCustomersRequest()],
    "/oms.order.v1.OrderService/PlaceOrder": [
        lambda w: order_pb2.PlaceOrderRequest(
            customer_id=w.b, items=[order_pb2.OrderLine(product_id=w.product, quantity=1)]
        )
    ],
    "/oms.order.v1.OrderService/GetOrder": [lambda w: order_pb2.GetOrderRequest(order_id=w.b_order)],
    "/oms.order.v1.OrderService/ListOrders": [
        lambda w: order_pb2.ListOrdersRequest(),
        lambda w: order_pb2.ListOrdersRequest(customer_id=w.b),
    ],
    "/oms.order.v1.OrderService/UpdateOrderStatus": [
        lambda w: order_pb2.UpdateOrderStatusRequest(
            order_id=w.b_order, status=order_pb2.ORDER_STATUS_CANCELLED, reason="walk"
        )
    ],
    "/oms.order.v1.OrderService/CancelOrder": [
        lambda w: order_pb2.CancelOrderRequest(order_id=w.b_order, reason="walk")
    ],
    "/oms.order.v1.OrderService/WatchOrder": [lambda w: order_pb2.WatchOrderRequest(order_id=w.b_order)],
    "/oms.inventory.v1.InventoryService/BatchGetProducts": [
        lambda w: inventory_pb2.BatchGetProductsRequest(product_ids=[w.product, unique("p-missing")])
    ],
    # The operator RPCs (admin only) are served by each service for its own dead letters and
    # outbox; the same requests are sent to all three.
    **{
        f"/oms.{package}.v1.{service}/{rpc}": [example]
        for package, service in (
            ("order", "OrderOperationsService"),
            ("inventory", "InventoryOperationsService"),
            ("notify", "NotifyOperationsService"),
        )
        for rpc, example in (
            ("ListDeadLetters", lambda w: ops_pb2.ListDeadLettersRequest(page_size=5)),
            ("GetDeadLetter", lambda w: ops_pb2.GetDeadLetterRequest(topic="orders.dlq", partition=0, offset=0)),
            (
                "ReplayDeadLetters",
                lambda w: ops_pb2.ReplayDeadLettersRequest(
                    dead_letters=[ops_pb2.DeadLetterRef(topic="orders.dlq", partition=0, offset=0)]
                ),
            ),
            ("ListParkedEvents", lambda w: ops_pb2.ListParkedEventsRequest(page_size=5)),
            ("RepublishParkedEvents", lambda w: ops_pb2.RepublishParkedEventsRequest(outbox_ids=[1])),
        )
    },
}


def all_methods() -> Iterator[descriptor.MethodDescriptor]:
    for service in services():
        yield from service.methods


METHODS = {method_path(m): m for m in all_methods()}


def strings_in(message: Message) -> Iterator[str]:
    """Every string (and map key) in ``message``, recursively."""
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                yield str(key)
                if isinstance(item, Message):
                    yield from strings_in(item)
                elif isinstance(item, str):
                    yield item
            continue
        values = value if field.is_repeated else [value]
        for each in values:
            if isinstance(each, Message):
                yield from strings_in(each)
            elif isinstance(each, str):
                yield each


def leaked(response: Message, secrets: set[str]) -> list[str]:
    return sorted({s for text in strings_in(response) for s in secrets if s in text})


def leaked_text(text: str, secrets: set[str]) -> list[str]:
    return sorted(s for s in secrets if s in text)


async def call(
    stack: Stack, method: descriptor.MethodDescriptor, request: Message, authorization: str | None
) -> list[Message]:
    """One call on the service's own port; a stream is read to its first message."""
    address = stack.service(upstream_of(method.containing_service)).address
    output = message_factory.GetMessageClass(method.output_type)
    metadata = (("authorization", authorization),) if authorization else ()
    async with grpc.aio.insecure_channel(address) as channel:
        path = method_path(method)
        if method.server_streaming:
            stream = channel.unary_stream(
                path, request_serializer=type(request).SerializeToString, response_deserializer=output.FromString
            )(request, metadata=metadata, timeout=10)
            try:
                async for first in stream:
                    return [first]
                return []
            finally:
                stream.cancel()
        unary = channel.unary_unary(
            path, request_serializer=type(request).SerializeToString, response_deserializer=output.FromString
        )
        return [await unary(request, metadata=metadata, timeout=10)]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    mesh = await new_mesh(infra, Path(tmp_path_factory.mktemp("authorization")))
    try:
        async with running_stack(mesh) as running:
            yield running
    finally:
        await mesh.stop()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def world(stack: Stack) -> World:
    a, b = await stack.customer(), await stack.customer()
    product = await stack.product(stock=50)
    doomed = await stack.product()
    a_order = (await stack.place(a, product, headers=stack.headers(a, "customer")))["orderId"]
    b_order = (await stack.place(b, product, headers=stack.headers(b, "customer")))["orderId"]

    async def b_notifications() -> list[dict[str, str]]:
        reply = await stack.call("GET", "/notifications", params={"orderId": b_order})
        return list(reply.json().get("notifications", []))

    found = await eventually(b_notifications, timeout_s=30, what="B's order notification")
    return World(a, b, b_order, a_order, found[0]["notificationId"], product, doomed)


async def test_every_rpc_declares_a_rule_and_has_an_example() -> None:
    """Fails for an RPC added without a rule or without an example request here."""
    assert METHODS, "no RPCs found in the descriptors"
    undeclared = [path for path, m in METHODS.items() if rule_of(m).access is Access.UNSPECIFIED]
    assert not undeclared, f"RPCs without an (oms.options.v1.authorization) rule: {undeclared}"
    missing = sorted(set(METHODS) - set(EXAMPLES))
    assert not missing, f"RPCs without an example request in EXAMPLES: {missing}"
    assert not set(EXAMPLES) - set(METHODS), "EXAMPLES names RPCs that no longer exist"


@pytest.mark.parametrize("path", sorted(METHODS))
async def test_anonymous(stack: Stack, world: World, path: str) -> None:
    method, rule = METHODS[path], rule_of(METHODS[path])
    for example in EXAMPLES.get(path, []):
        request = example(world)
        if rule.access is Access.PUBLIC:
            await call(stack, method, request, None)  # answers without a token
        else:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(stack, method, request, None)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, (path, refused.value.details())
        await _anonymous_over_http(stack, method, rule, request)


async def _anonymous_over_http(stack: Stack, method: descriptor.MethodDescriptor, rule: Rule, request: Message) -> None:
    """The gateway applies the same rule: public routes answer, the others are 401."""
    for binding in bindings_of(Method(method, upstream_of(method.containing_service))):
        route = re.sub(
            r"\{([^}=]+)(=[^}]*)?\}", lambda m: field_value(request, m.group(1)) or "x", binding.template.openapi_path
        )
        reply = await stack.http.request(binding.http_method, route, json={} if binding.body else None)
        if rule.access is Access.PUBLIC:
            # Let in: answered, or judged on its content (the request here carries only the path's
            # fields, so a request that needs query parameters is a 400), never refused for the caller.
            assert reply.status_code in (200, 400, 404), (route, reply.status_code, reply.text)
            if reply.status_code != 200:
                assert status_body(reply)["code"] != grpc.StatusCode.UNAUTHENTICATED.value[0]
        else:
            assert reply.status_code == 401, (route, reply.status_code, reply.text)
            assert status_body(reply)["code"] == grpc.StatusCode.UNAUTHENTICATED.value[0]


@pytest.mark.parametrize("path", sorted(METHODS))
async def test_customer_on_another_customers_resources(stack: Stack, world: World, path: str) -> None:
    method = METHODS[path]
    as_a = f"Bearer {stack.mesh.token(world.a, 'customer')}"
    for example in EXAMPLES.get(path, []):
        request = example(world)
        try:
            responses = await call(stack, method, request, as_a)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() in REFUSED_FOR_OTHERS, (path, request, exc.code(), exc.details())
            # Echoing the id A sent is not a leak; anything else of B's would be.
            assert not leaked_text(exc.details() or "", world.b_secrets() - set(strings_in(request))), path
            continue
        for response in responses:
            assert not leaked(response, world.b_secrets()), (path, request, leaked(response, world.b_secrets()))


async def test_a_customer_still_sees_their_own_notifications(stack: Stack, world: World) -> None:
    """The filter is the principal, not "nothing": A's list holds A's order and no one else's."""
    as_a = stack.headers(world.a, "customer")

    async def mine() -> list[dict[str, str]]:
        return list((await stack.call("GET", "/notifications", headers=as_a)).json().get("notifications", []))

    notifications = await eventually(mine, timeout_s=30, what="A's notification")
    assert {n["customerId"] for n in notifications} == {world.a}
    assert world.a_order in {n["orderId"] for n in notifications}
    everyone = (await stack.call("GET", "/notifications")).json()["notifications"]
    assert {world.a, world.b} <= {n["customerId"] for n in everyone}  # admins see all
    only_b = (await stack.call("GET", "/notifications", params={"customerId": world.b})).json()["notifications"]
    assert {n["customerId"] for n in only_b} == {world.b}
    refused = await stack.call("GET", "/notifications", params={"customerId": world.b}, headers=as_a, expect=403)
    assert status_body(refused)["code"] == grpc.StatusCode.PERMISSION_DENIED.value[0]


@pytest.mark.parametrize("path", sorted(METHODS))
async def test_admin(stack: Stack, world: World, path: str) -> None:
    method = METHODS[path]
    as_admin = f"Bearer {stack.mesh.token('admin-walker', 'admin')}"
    for example in EXAMPLES.get(path, []):
        try:
            await call(stack, method, example(world), as_admin)
        except grpc.aio.AioRpcError as exc:
            # Allowed in: whatever the use case says about this request is not an auth refusal.
            assert exc.code() not in AUTH_REFUSALS, (path, exc.code(), exc.details())


async def test_internal_rpcs_take_a_service_token_and_refuse_customers(stack: Stack, world: World) -> None:
    internal = [m for m in METHODS.values() if rule_of(m).access is Access.INTERNAL]
    assert internal
    service = f"Bearer {stack.mesh.token('order_svc', 'service')}"
    customer = f"Bearer {stack.mesh.token(world.a, 'customer')}"
    for method in internal:
        for example in EXAMPLES[method_path(method)]:
            await call(stack, method, example(world), service)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call(stack, method, example(world), customer)
            assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_order_service_prechecks_stock_with_its_own_token(stack: Stack, world: World) -> None:
    """A customer's order still gets the stock pre-check (CheckStock is internal, so order_svc
    calls it with its own token): over-ordering is refused at once, not accepted as PENDING."""
    scarce = await stack.product(stock=2)
    body = {"customerId": world.a, "items": [{"productId": scarce, "quantity": 3}]}
    reply = await stack.call("POST", "/orders", body=body, headers=stack.headers(world.a, "customer"), expect=400)
    assert "INSUFFICIENT_STOCK" in reply.text
