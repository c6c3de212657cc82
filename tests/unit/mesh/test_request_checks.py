from __future__ import annotations

from mesh.request_checks import nul_violations
from oms.inventory.v1 import inventory_pb2
from oms.order.v1 import customer_pb2, order_pb2


def fields(message: object) -> list[str]:
    return [v.field for v in nul_violations(message)]  # type: ignore[arg-type]


def test_nul_characters_are_found_at_any_depth_and_named() -> None:
    assert fields(customer_pb2.CreateCustomerRequest(customer={"name": "A\x00B", "email": "x@y.z"})) == [
        "customer.name"
    ]
    request = order_pb2.PlaceOrderRequest(customer_id="c-1", items=[{"product_id": "ok"}, {"product_id": "b\x00d"}])
    assert fields(request) == ["items[1].product_id"]
    assert fields(inventory_pb2.CheckStockRequest(product_ids=["a", "\x00"])) == ["product_ids[1]"]


def test_clean_requests_pass() -> None:
    assert fields(order_pb2.PlaceOrderRequest(customer_id="c-1", items=[{"product_id": "p", "quantity": 1}])) == []
    assert fields(inventory_pb2.ListProductsRequest(name_contains="wool ☃")) == []
