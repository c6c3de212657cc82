"""How large a legitimate response can be, from the contracts: the gateway's receive limit.

A request field's bounds are declared in the .proto (mesh.serving.bounds). Responses also carry fields
no request sets (server-assigned ids, names copied from the catalog, a page of results): their
bounds are stated here, each with where it comes from, so the largest response of every RPC
can be computed (``largest_response``) and the upstream channels' receive limit checked
against it (tests/unit/gateway/test_gateway_upstream_limits.py).
"""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from mesh.serving.bounds import bounds_of, largest_encoding
from mesh.storage.paging import MAX_PAGE_SIZE
from oms.options.v1.options_pb2 import Bounds

_ID = Bounds(max_len=128)
_PAGE = Bounds(max_items=MAX_PAGE_SIZE)
_TOKEN = Bounds(max_len=1024)
# Order lines and their per-product shortfalls: at most one per line of PlaceOrderRequest.items.
_LINES = Bounds(max_items=100)

RESPONSE_BOUNDS: dict[str, Bounds] = {
    # Server-assigned or copied from a bounded request field.
    "oms.order.v1.Order.order_id": _ID,
    "oms.order.v1.Order.customer_id": _ID,
    "oms.order.v1.Order.status_reason": Bounds(max_len=500),  # a cancel/status reason
    "oms.order.v1.Order.items": _LINES,
    "oms.order.v1.Order.shortfalls": _LINES,
    "oms.order.v1.OrderItem.product_id": _ID,
    "oms.order.v1.OrderItem.product_name": Bounds(max_len=200),  # Product.name
    "oms.order.v1.StockShortfall.product_id": _ID,
    "oms.inventory.v1.Stock.product_id": _ID,
    "oms.inventory.v1.CheckStockResponse.available": Bounds(max_items=500),  # CheckStockRequest.product_ids
    "oms.inventory.v1.CheckStockResponse.AvailableEntry.key": _ID,
    "oms.inventory.v1.CheckStockResponse.unknown_product_ids": Bounds(max_items=500, max_len=128),
    # BatchGetProductsRequest.product_ids: at most 100 ids, each found or missing.
    "oms.inventory.v1.BatchGetProductsResponse.products": Bounds(max_items=100),
    "oms.inventory.v1.BatchGetProductsResponse.missing_product_ids": Bounds(max_items=100, max_len=128),
    "oms.notify.v1.Notification.notification_id": _ID,
    "oms.notify.v1.Notification.event_id": _ID,
    "oms.notify.v1.Notification.event_type": Bounds(max_len=200),  # a protobuf message name
    "oms.notify.v1.Notification.order_id": _ID,
    "oms.notify.v1.Notification.customer_id": _ID,
    "oms.notify.v1.Notification.recipient": Bounds(max_len=254),  # Customer.email (or Customer.phone: 32)
    "oms.notify.v1.Notification.subject": Bounds(max_len=300),  # a template around an order id
    "oms.notify.v1.Notification.last_error": Bounds(max_len=1000),  # notify_svc.domain.model.MAX_LAST_ERROR
    "oms.notify.v1.WebhookEndpoint.endpoint_id": _ID,
    # Whole endpoints: at most notify_svc.domain.webhooks.MAX_ENDPOINTS are registered.
    "oms.notify.v1.ListWebhookEndpointsResponse.endpoints": Bounds(max_items=100),
    # whsec_ and the base64 of at most SECRET_MAX_BYTES (64) bytes: 6 + 88 characters.
    "oms.notify.v1.CreateWebhookEndpointResponse.secret": Bounds(max_len=100),
    "oms.notify.v1.WebhookDelivery.delivery_id": _ID,
    "oms.notify.v1.WebhookDelivery.endpoint_id": _ID,
    "oms.notify.v1.WebhookDelivery.event_id": _ID,
    "oms.notify.v1.WebhookDelivery.event_type": Bounds(max_len=200),  # a protobuf message name
    "oms.notify.v1.WebhookDelivery.order_id": _ID,
    "oms.notify.v1.WebhookDelivery.last_error": Bounds(max_len=1000),  # notify_svc.domain.webhooks.MAX_LAST_ERROR
    # One page of a listing, at the largest page size served.
    "oms.order.v1.ListOrdersResponse.orders": _PAGE,
    "oms.order.v1.ListCustomersResponse.customers": _PAGE,
    "oms.inventory.v1.ListProductsResponse.products": _PAGE,
    "oms.notify.v1.ListNotificationsResponse.notifications": _PAGE,
    "oms.notify.v1.ListWebhookDeliveriesResponse.deliveries": _PAGE,
    **{
        f"{listing}.next_page_token": _TOKEN
        for listing in (
            "oms.order.v1.ListOrdersResponse",
            "oms.order.v1.ListCustomersResponse",
            "oms.inventory.v1.ListProductsResponse",
            "oms.notify.v1.ListNotificationsResponse",
            "oms.notify.v1.ListWebhookDeliveriesResponse",
        )
    },
}


def response_bounds_of(field: FieldDescriptor) -> Bounds | None:
    """A response field's bound: stated here, else the one its request twin declares."""
    return RESPONSE_BOUNDS.get(field.full_name) or bounds_of(field)


def largest_response(message: Descriptor) -> int:
    """The most bytes a legitimate ``message`` can take (raises mesh.serving.bounds.Unbounded)."""
    return largest_encoding(message, response_bounds_of, skip_output_only=False)
