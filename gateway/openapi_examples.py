"""Example requests for the OpenAPI document, and the request headers the gateway reads.

Swagger UI pre-fills "Try it out" from these, so they are requests that pass validation against
the data a `make run` mesh holds: the demo catalog (``inventory_svc/seed_catalog.py``) and the
demo customers (``scripts/run``). The gateway does not import the services, so the values are
repeated here; tests/unit/gateway/test_gateway_openapi_examples.py checks that they are the
demo data's and that every example is valid against its schema. Ids of things the demo data
does not have (an order, a notification, a dead letter) are well-formed, so the call answers
404, not 400.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEMO_PRODUCT = "coffee-ethiopia-yirgacheffe-250g"
DEMO_PRODUCT_2 = "coffee-colombia-huila-1kg"
DEMO_CUSTOMER = "c-demo-ada"
AN_ORDER = "7f9c2ba4-e88f-4b2c-a3d5-6c0e8b1d2f30"
A_NOTIFICATION = "3b241101-e2bb-4255-8caf-4136c566a962"
A_DEAD_LETTER = {"topic": "orders.dlq", "partition": 0, "offset": "0"}


@dataclass(frozen=True)
class Example:
    body: Any = None
    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)


_STATUS_CHANGE = {"status": "ORDER_STATUS_CANCELLED", "reason": "ordered twice by mistake"}

# By RPC full name: every HTTP binding of the method shares its example (an additional binding
# with another ``body`` takes only the part of the body it maps, see ``body_for``).
EXAMPLES: dict[str, Example] = {
    "oms.order.v1.OrderService.PlaceOrder": Example(
        body={"customerId": DEMO_CUSTOMER, "items": [{"productId": DEMO_PRODUCT, "quantity": 1}]}
    ),
    "oms.order.v1.OrderService.GetOrder": Example(path={"order_id": AN_ORDER}),
    "oms.order.v1.OrderService.ListOrders": Example(query={"customer_id": DEMO_CUSTOMER, "page_size": 10}),
    "oms.order.v1.OrderService.UpdateOrderStatus": Example(body=_STATUS_CHANGE, path={"order_id": AN_ORDER}),
    "oms.order.v1.OrderService.CancelOrder": Example(body={"reason": "no longer needed"}, path={"order_id": AN_ORDER}),
    "oms.order.v1.OrderService.WatchOrder": Example(path={"order_id": AN_ORDER}),
    "oms.order.v1.CustomerService.CreateCustomer": Example(
        body={"customerId": "c-demo-alan", "name": "Alan Turing", "email": "alan@example.com"}
    ),
    "oms.order.v1.CustomerService.GetCustomer": Example(path={"customer_id": DEMO_CUSTOMER}),
    "oms.order.v1.CustomerService.UpdateCustomer": Example(
        # The schema's required fields are there (it is the Customer's); the mask says what changes.
        body={"name": "Ada King, Countess of Lovelace", "email": "ada@example.com"},
        path={"customer.customer_id": DEMO_CUSTOMER},
        query={"update_mask": "name"},
    ),
    "oms.order.v1.CustomerService.ListCustomers": Example(query={"page_size": 10}),
    "oms.inventory.v1.InventoryService.ListProducts": Example(query={"page_size": 10}),
    "oms.inventory.v1.InventoryService.GetProduct": Example(path={"product_id": DEMO_PRODUCT}),
    "oms.inventory.v1.InventoryService.BatchGetProducts": Example(
        query={"product_ids": [DEMO_PRODUCT, DEMO_PRODUCT_2]}
    ),
    "oms.inventory.v1.InventoryService.CreateProduct": Example(
        body={
            "productId": "tea-demo-rooibos-100g",
            "name": "Rooibos, loose leaf, 100 g",
            "description": "Caffeine-free South African red bush tea.",
            "price": {"currencyCode": "EUR", "units": "6", "nanos": 500000000},
            "active": True,
        }
    ),
    "oms.inventory.v1.InventoryService.UpdateProduct": Example(
        body={
            "name": "Ethiopia Yirgacheffe, whole bean, 250 g",
            "description": "Washed single origin; jasmine, bergamot, lemon.",
            "price": {"currencyCode": "EUR", "units": "14", "nanos": 900000000},
        },
        path={"product.product_id": DEMO_PRODUCT},
        query={"update_mask": "description"},
    ),
    "oms.inventory.v1.InventoryService.DeleteProduct": Example(path={"product_id": "tea-demo-rooibos-100g"}),
    "oms.inventory.v1.InventoryService.GetStock": Example(path={"product_id": DEMO_PRODUCT}),
    "oms.inventory.v1.InventoryService.CheckStock": Example(body={"productIds": [DEMO_PRODUCT, DEMO_PRODUCT_2]}),
    "oms.inventory.v1.InventoryService.AddStock": Example(
        body={"productId": DEMO_PRODUCT, "quantity": "10", "reason": "delivery from the roastery"}
    ),
    "oms.inventory.v1.InventoryService.AuditStock": Example(
        body={"productId": DEMO_PRODUCT, "quantity": "118", "expectedVersion": "1", "reason": "shelf count"}
    ),
    "oms.notify.v1.NotificationService.ListNotifications": Example(query={"order_id": AN_ORDER}),
    "oms.notify.v1.NotificationService.RetryNotification": Example(body={}, path={"notification_id": A_NOTIFICATION}),
}
for _service in ("order", "inventory", "notify"):
    _ops = f"oms.{_service}.v1.{_service.capitalize()}OperationsService"
    EXAMPLES |= {
        f"{_ops}.ListDeadLetters": Example(query={"page_size": 10}),
        f"{_ops}.GetDeadLetter": Example(path=dict(A_DEAD_LETTER)),
        f"{_ops}.ReplayDeadLetters": Example(body={"deadLetters": [A_DEAD_LETTER]}),
        f"{_ops}.ListParkedEvents": Example(query={"page_size": 10}),
        f"{_ops}.RepublishParkedEvents": Example(body={"outboxIds": ["1"]}),
    }


def body_for(example: Example, body_field: str, json_name: str) -> Any:
    """The example body of a binding: all of it for ``body: "*"``, else the one field it maps
    (``body: "product_ids"`` → the list under ``productIds``), whole when the example is that field."""
    if body_field == "*" or not isinstance(example.body, dict) or json_name not in example.body:
        return example.body
    return example.body[json_name]


# The request headers the gateway reads besides Authorization (gateway/headers.py), as OpenAPI
# header parameters: without them Swagger UI and generated clients cannot send them.
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: the same key and body (per caller) returns the order placed first "
    "instead of placing another; the same key with another body is refused. At most 128 characters.",
    "schema": {"type": "string", "maxLength": 128},
    "example": "order-2026-0001-ada",
}
COMMON_HEADERS: list[dict[str, Any]] = [
    {
        "name": "X-Request-Id",
        "in": "header",
        "required": False,
        "description": "Your id for this request, passed to the services and echoed on the response "
        "(generated when absent). At most 128 characters.",
        "schema": {"type": "string", "maxLength": 128},
    },
    {
        "name": "Grpc-Timeout",
        "in": "header",
        "required": False,
        "description": "The call's deadline in gRPC's wire format: 1-8 digits and a unit, H M S m u n "
        "(`5S`, `300m`); the gateway's default applies when absent.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,8}[HMSmun]$"},
        "example": "5S",
    },
    {
        "name": "traceparent",
        "in": "header",
        "required": False,
        "description": "W3C trace context: the request's spans continue this trace.",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"},
    },
    {
        "name": "tracestate",
        "in": "header",
        "required": False,
        "description": "W3C trace context, vendor part (with traceparent).",
        "schema": {"type": "string"},
    },
]
# The methods that read an idempotency key (order_svc/entrypoints/order_servicer.py).
IDEMPOTENT = {"oms.order.v1.OrderService.PlaceOrder"}
