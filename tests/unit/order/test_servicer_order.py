"""OrderService's translation, in process on grpcio-testing: request → command, result → response,
domain error → status code with its details, the caller from the principal of the call."""

from __future__ import annotations

from datetime import UTC

import grpc
import pytest
from google.rpc import error_details_pb2

from mesh.auth.principal import Principal
from mesh.serving.stream_slots import StreamSlots
from mesh.serving.wire import money
from mesh.storage.paging import PageTokens
from oms.order.v1 import order_pb2
from order_svc.adapters.watch_hub import WatchHub
from order_svc.domain.model import Order, OrderLine
from order_svc.domain.status import OrderStatus
from order_svc.entrypoints.order_servicer import OrderServicer
from order_svc.service_layer.lifecycle import read_order
from order_svc.service_layer.watching import OrderFeeds, Watching
from testkit.grpc_in_process import InProcess
from tests.unit.order.fakes import START, Fakes

SERVICE = order_pb2.DESCRIPTOR.services_by_name["OrderService"]
ADMIN = Principal("admin-1", frozenset({"admin"}))
ADA = Principal("c-1", frozenset({"customer"}))
BOB = Principal("c-2", frozenset({"customer"}))


@pytest.fixture
def fakes() -> Fakes:
    made = Fakes()
    made.store.add_customer("c-1")
    made.store.add_customer("c-2")
    made.inventory.add("p-1", price_minor=250, stock=10)
    return made


@pytest.fixture
async def orders(fakes: Fakes) -> InProcess:
    deps = fakes.deps

    async def read(order_id: str) -> Order | None:
        return await read_order(order_id, deps)

    watching = Watching(
        feeds=OrderFeeds(read, WatchHub("postgresql://unused")),
        slots=StreamSlots(max_total=1, max_per_key=1, what="WatchOrder streams"),
        max_lifetime_s=60,
    )
    return InProcess(OrderServicer(deps, watching, PageTokens(b"k" * 32)), SERVICE)


def place(customer_id: str = "c-1", *items: tuple[str, int]) -> order_pb2.PlaceOrderRequest:
    lines = items or (("p-1", 2),)
    return order_pb2.PlaceOrderRequest(
        customer_id=customer_id, items=[order_pb2.OrderLine(product_id=p, quantity=q) for p, q in lines]
    )


def stored(fakes: Fakes, order_id: str, status: OrderStatus, customer_id: str = "c-1") -> None:
    order = Order(order_id, customer_id, "EUR", [OrderLine("p-1", 1, "Widget", 250)], status=status)
    fakes.store.add_order(order)


async def test_place_order_answers_the_priced_pending_order(orders: InProcess, fakes: Fakes) -> None:
    placed = await orders.call("PlaceOrder", place(), principal=ADA, metadata=[("authorization", "Bearer ada")])

    assert placed.code is grpc.StatusCode.OK
    order = placed.response.order
    assert (order.customer_id, order.status) == ("c-1", order_pb2.ORDER_STATUS_PENDING)
    assert order.total == money(500, "EUR")
    assert [(i.product_id, i.quantity, i.unit_price.units) for i in order.items] == [("p-1", 2, 2)]
    assert order.create_time.ToDatetime(tzinfo=UTC) > START
    assert order.order_id in fakes.store.tables.orders
    # The caller's own token is what inventory is asked with (CheckStock checks it itself).
    assert {metadata for _, _, metadata in fakes.inventory.calls} == {(("authorization", "Bearer ada"),)}


async def test_the_idempotency_key_header_replays_the_first_order(orders: InProcess, fakes: Fakes) -> None:
    key = [("idempotency-key", "k-1")]
    first = await orders.call("PlaceOrder", place(), principal=ADA, metadata=key)
    again = await orders.call("PlaceOrder", place(), principal=ADA, metadata=key)
    other = await orders.call("PlaceOrder", place("c-1", ("p-1", 3)), principal=ADA, metadata=key)

    assert again.response.order.order_id == first.response.order.order_id
    assert len(fakes.store.tables.orders) == 1
    assert (other.code, other.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "IDEMPOTENCY_KEY_REUSED")


async def test_an_out_of_bounds_quantity_is_named_by_the_request_checks(orders: InProcess) -> None:
    refused = await orders.call("PlaceOrder", place("c-1", ("p-1", 1), ("p-1", 0)), principal=ADMIN)
    assert (refused.code, refused.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert refused.field_violations == [("items[1].quantity", "must be within 1..1000")]


async def test_an_unknown_product_is_named_by_its_position(orders: InProcess) -> None:
    refused = await orders.call("PlaceOrder", place("c-1", ("p-1", 1), ("nope", 1)), principal=ADMIN)
    assert (refused.code, refused.field_violations) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("items[1].product_id", "no such product")],
    )
    assert "nope" not in refused.details  # a caller's value is not echoed


async def test_the_declared_bounds_refuse_a_request_before_the_handler(orders: InProcess, fakes: Fakes) -> None:
    refused = await orders.call("PlaceOrder", place("c-1", *[("p-1", 1)] * 101), principal=ADMIN)
    assert refused.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [field for field, _ in refused.field_violations] == ["items"]
    assert fakes.inventory.calls == []


async def test_short_stock_is_failed_precondition_with_the_shortfall(orders: InProcess, fakes: Fakes) -> None:
    refused = await orders.call("PlaceOrder", place("c-1", ("p-1", 11)), principal=ADMIN)
    assert (refused.code, refused.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_STOCK")
    failure = refused.detail(error_details_pb2.PreconditionFailure)
    assert [(v.type, v.subject) for v in failure.violations] == [("STOCK", "products/p-1")]


async def test_a_customer_cannot_order_for_someone_else(orders: InProcess) -> None:
    refused = await orders.call("PlaceOrder", place("c-2"), principal=ADA)
    assert refused.code is grpc.StatusCode.PERMISSION_DENIED


async def test_get_order_needs_an_id_and_shows_only_the_callers_own(orders: InProcess, fakes: Fakes) -> None:
    stored(fakes, "o-1", OrderStatus.CONFIRMED)
    mine = await orders.call("GetOrder", order_pb2.GetOrderRequest(order_id="o-1"), principal=ADA)
    theirs = await orders.call("GetOrder", order_pb2.GetOrderRequest(order_id="o-1"), principal=BOB)
    empty = await orders.call("GetOrder", order_pb2.GetOrderRequest(order_id=" "), principal=ADA)

    assert mine.response.order.status == order_pb2.ORDER_STATUS_CONFIRMED
    assert theirs.code is grpc.StatusCode.NOT_FOUND
    assert (empty.code, empty.field_violations) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        [("order_id", "must not be empty")],
    )


async def test_without_auth_the_caller_is_the_synthetic_admin(orders: InProcess, fakes: Fakes) -> None:
    stored(fakes, "o-1", OrderStatus.PENDING, customer_id="c-2")
    found = await orders.call("GetOrder", order_pb2.GetOrderRequest(order_id="o-1"))
    assert found.code is grpc.StatusCode.OK


async def test_update_status_translates_the_target_and_the_refusals(orders: InProcess, fakes: Fakes) -> None:
    stored(fakes, "o-1", OrderStatus.PAID)

    def update(status: int) -> order_pb2.UpdateOrderStatusRequest:
        return order_pb2.UpdateOrderStatusRequest(order_id="o-1", status=status, reason="parcel 7")  # type: ignore[arg-type]

    unnamed = await orders.call("UpdateOrderStatus", update(order_pb2.ORDER_STATUS_UNSPECIFIED), principal=ADMIN)
    by_customer = await orders.call("UpdateOrderStatus", update(order_pb2.ORDER_STATUS_SHIPPED), principal=ADA)
    illegal = await orders.call("UpdateOrderStatus", update(order_pb2.ORDER_STATUS_PENDING), principal=ADMIN)
    shipped = await orders.call("UpdateOrderStatus", update(order_pb2.ORDER_STATUS_SHIPPED), principal=ADMIN)

    assert (unnamed.code, [f for f, _ in unnamed.field_violations]) == (grpc.StatusCode.INVALID_ARGUMENT, ["status"])
    assert by_customer.code is grpc.StatusCode.PERMISSION_DENIED
    assert (illegal.code, illegal.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ILLEGAL_TRANSITION")
    info = illegal.detail(error_details_pb2.ErrorInfo)
    assert dict(info.metadata) == {"current_status": "PAID", "requested_status": "PENDING"}
    assert (shipped.response.order.status, shipped.response.order.status_reason) == (
        order_pb2.ORDER_STATUS_SHIPPED,
        "parcel 7",
    )


async def test_cancel_order_answers_the_cancelled_order(orders: InProcess, fakes: Fakes) -> None:
    stored(fakes, "o-1", OrderStatus.PENDING)
    cancelled = await orders.call("CancelOrder", order_pb2.CancelOrderRequest(order_id="o-1"), principal=ADA)
    assert (cancelled.response.order.status, cancelled.response.order.status_reason) == (
        order_pb2.ORDER_STATUS_CANCELLED,
        "cancelled by request",
    )
    assert fakes.store.order("o-1").status is OrderStatus.CANCELLED


async def test_list_orders_pages_with_tokens_bound_to_the_listing(orders: InProcess, fakes: Fakes) -> None:
    for number in range(3):
        stored(fakes, f"o-{number}", OrderStatus.PENDING)
    first = await orders.call("ListOrders", order_pb2.ListOrdersRequest(page_size=2), principal=ADA)
    token = first.response.next_page_token
    rest = await orders.call("ListOrders", order_pb2.ListOrdersRequest(page_size=2, page_token=token), principal=ADA)
    other_filter = await orders.call(
        "ListOrders",
        order_pb2.ListOrdersRequest(page_token=token, status=order_pb2.ORDER_STATUS_PAID),
        principal=ADA,
    )
    forged = await orders.call("ListOrders", order_pb2.ListOrdersRequest(page_token="forged"), principal=ADA)

    assert [o.order_id for o in first.response.orders] == ["o-2", "o-1"]
    assert ([o.order_id for o in rest.response.orders], rest.response.next_page_token) == (["o-0"], "")
    assert other_filter.code is grpc.StatusCode.INVALID_ARGUMENT
    assert forged.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in forged.field_violations] == ["page_token"]
