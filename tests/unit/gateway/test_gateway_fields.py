"""URL text → protobuf fields: nested paths, repeated values, enums, well-known types."""

from __future__ import annotations

import pytest

from gateway.errors import HttpError
from gateway.fields import resolve, set_from_strings
from oms.inventory.v1 import inventory_pb2
from oms.order.v1 import customer_pb2, order_pb2


def test_nested_paths_accept_proto_and_json_names() -> None:
    request = customer_pb2.UpdateCustomerRequest()
    set_from_strings(request, resolve(request.DESCRIPTOR, "customer.customerId"), ["c-1"])
    set_from_strings(request, resolve(request.DESCRIPTOR, "customer.create_time"), ["2024-01-31T12:00:00Z"])
    set_from_strings(request, resolve(request.DESCRIPTOR, "update_mask"), ["name,email"])
    assert request.customer.customer_id == "c-1"
    assert request.customer.create_time.seconds == 1706702400
    assert list(request.update_mask.paths) == ["name", "email"]


def test_repeated_fields_take_every_value() -> None:
    request = inventory_pb2.CheckStockRequest()
    set_from_strings(request, resolve(request.DESCRIPTOR, "productIds"), ["p-1", "p-2"])
    assert list(request.product_ids) == ["p-1", "p-2"]


@pytest.mark.parametrize(
    ("field", "values", "reason"),
    [
        ("page_size", ["1", "2"], "more than once"),
        ("page_size", ["99999999999"], "invalid value"),
        ("status", ["NOPE"], "must be one of ORDER_STATUS_UNSPECIFIED, .* or 4 more"),
        ("nothing", ["x"], "no field"),
    ],
)
def test_bad_values_are_400(field: str, values: list[str], reason: str) -> None:
    request = order_pb2.ListOrdersRequest()
    with pytest.raises(HttpError, match=reason) as caught:
        set_from_strings(request, resolve(request.DESCRIPTOR, field), values)
    assert caught.value.http_status == 400


def test_booleans_follow_grpc_gateway() -> None:
    request = inventory_pb2.ListProductsRequest()
    for text, expected in (("true", True), ("0", False), ("T", True), ("False", False)):
        set_from_strings(request, resolve(request.DESCRIPTOR, "active"), [text])
        assert request.active is expected
    with pytest.raises(HttpError):
        set_from_strings(request, resolve(request.DESCRIPTOR, "active"), ["yes"])
