"""The gateway's upstream receive limit fits the largest legitimate response, computed from the contracts."""

from __future__ import annotations

import grpc
import httpx

from gateway.response_bounds import RESPONSE_BOUNDS, largest_response
from gateway.upstream import MAX_RESPONSE_BYTES
from mesh.serving.bounds import rpc_methods
from notify_svc.domain import webhooks
from notify_svc.domain.model import MAX_LAST_ERROR
from oms.inventory.v1 import inventory_pb2
from oms.order.v1 import order_pb2
from tests.unit.gateway.conftest import Recorder

SERVICES = ("OrderService", "CustomerService", "InventoryService", "NotificationService", "WebhookService")


def test_every_response_of_the_transcoded_services_fits_and_the_limit_tracks_the_largest() -> None:
    sizes = {
        m.full_name: largest_response(m.output_type) for m in rpc_methods() if m.containing_service.name in SERVICES
    }
    assert len(sizes) >= 28
    largest = max(sizes, key=sizes.__getitem__)
    assert largest == "oms.order.v1.OrderService.ListOrders"
    assert sizes[largest] <= MAX_RESPONSE_BYTES
    assert 1.25 * sizes[largest] >= MAX_RESPONSE_BYTES, "the limit is sized to the contracts, not a round guess"


def test_a_real_full_page_of_orders_is_within_the_computed_size() -> None:
    wide = "😀"
    money = {"currency_code": "EUR", "units": -(2**62), "nanos": -999_999_999}
    item = order_pb2.OrderItem(
        product_id=wide * 128, quantity=-1, product_name=wide * 200, unit_price=money, line_total=money
    )
    order = order_pb2.Order(
        order_id=wide * 128,
        customer_id=wide * 128,
        status=order_pb2.ORDER_STATUS_CANCELLED,
        status_reason=wide * 500,
        items=[item] * 100,
        total=money,
        shortfalls=[{"product_id": wide * 128, "requested": -1, "available": -1}] * 100,
        create_time={"seconds": -(2**62), "nanos": 999_999_999},
        update_time={"seconds": -(2**62), "nanos": 999_999_999},
        version=-1,
    )
    page = order_pb2.ListOrdersResponse(orders=[order] * 500, next_page_token=wide * 1024)
    assert page.ByteSize() <= largest_response(order_pb2.ListOrdersResponse.DESCRIPTOR) <= MAX_RESPONSE_BYTES


def test_the_stated_bounds_match_what_the_services_keep() -> None:
    assert RESPONSE_BOUNDS["oms.notify.v1.Notification.last_error"].max_len == MAX_LAST_ERROR
    assert RESPONSE_BOUNDS["oms.notify.v1.WebhookDelivery.last_error"].max_len == webhooks.MAX_LAST_ERROR
    assert RESPONSE_BOUNDS["oms.notify.v1.ListWebhookEndpointsResponse.endpoints"].max_items == webhooks.MAX_ENDPOINTS
    secret = webhooks.secret_from(b"k" * webhooks.SECRET_MAX_BYTES)
    assert len(secret) <= RESPONSE_BOUNDS["oms.notify.v1.CreateWebhookEndpointResponse.secret"].max_len


async def test_a_full_page_of_products_larger_than_grpcs_default_limit_is_served(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    product = inventory_pb2.Product(product_id="p" * 63, name="n" * 200, description="€" * 4000)
    page = inventory_pb2.ListProductsResponse(products=[product] * 500)
    assert page.ByteSize() > 4 * 1024 * 1024  # gRPC's default receive limit

    async def full_page(request: object, context: grpc.aio.ServicerContext) -> inventory_pb2.ListProductsResponse:
        return page

    recorder.behaviors["ListProducts"] = full_page
    response = await client.get("/products", params={"pageSize": "500"})
    assert response.status_code == 200, response.text[:300]
    assert len(response.json()["products"]) == 500
