from __future__ import annotations

import pytest
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from inventory_svc.seed_catalog import CATALOG
from mesh.serving.bounds import bounds_of, is_integer, is_output_only, needs_bounds, rpc_methods
from mesh.serving.request_checks import plan_of, request_violations
from mesh.values.violations import FieldViolation
from oms.inventory.v1 import inventory_pb2
from oms.notify.v1 import notify_pb2
from oms.order.v1 import customer_pb2, order_pb2


def fields(message: Message) -> list[str]:
    return [v.field for v in request_violations(message)]


def only(message: Message) -> FieldViolation:
    found = request_violations(message)
    assert len(found) == 1, found
    return found[0]


def line(product_id: str = "p-1", quantity: int = 1) -> order_pb2.OrderLine:
    return order_pb2.OrderLine(product_id=product_id, quantity=quantity)


def test_nul_characters_are_found_at_any_depth_and_named() -> None:
    assert fields(customer_pb2.CreateCustomerRequest(customer={"name": "A\x00B", "email": "x@y.zz"})) == [
        "customer.name"
    ]
    request = order_pb2.PlaceOrderRequest(customer_id="c-1", items=[line("ok"), line("b\x00d")])
    assert fields(request) == ["items[1].product_id"]
    assert fields(inventory_pb2.CheckStockRequest(product_ids=["a", "\x00"])) == ["product_ids[1]"]


def test_clean_requests_pass() -> None:
    assert fields(order_pb2.PlaceOrderRequest(customer_id="c-1", items=[line("p", 1), line("q", 1000)])) == []
    assert fields(inventory_pb2.ListProductsRequest(name_contains="wool ☃", page_size=10_000)) == []
    assert fields(inventory_pb2.ListProductsRequest(page_size=-1)) == ["page_size"]
    assert fields(customer_pb2.UpdateCustomerRequest(customer={"customer_id": "c-1", "name": "Ada"})) == []


def test_an_oversized_string_is_named_by_its_path_and_never_echoed() -> None:
    violation = only(order_pb2.PlaceOrderRequest(customer_id="c", items=[line(), line("x" * 129)]))
    assert violation == FieldViolation("items[1].product_id", "at most 128 characters, got 129")
    reason = only(order_pb2.CancelOrderRequest(order_id="o-1", reason="r" * 500_001))
    assert reason.field == "reason" and "rrr" not in reason.description
    assert fields(order_pb2.CancelOrderRequest(order_id="o-1", reason="é" * 500)) == []


def test_too_many_lines_is_one_violation_decided_before_any_line_is_looked_at() -> None:
    # Every line is bad too: had the checker iterated them, it would report them.
    bad_line = line("\x00" * 200, 0)
    for count in (101, 200_000):
        request = order_pb2.PlaceOrderRequest(customer_id="c", items=[bad_line] * count)
        assert request_violations(request) == [FieldViolation("items", f"at most 100 entries, got {count}")]


def test_required_entries_and_ids() -> None:
    assert only(order_pb2.PlaceOrderRequest(customer_id="c")) == FieldViolation("items", "at least 1 entry, got 0")
    assert only(order_pb2.GetOrderRequest()) == FieldViolation("order_id", "must not be empty")
    assert only(inventory_pb2.CheckStockRequest()).field == "product_ids"


@pytest.mark.parametrize(("quantity", "ok"), [(0, False), (1, True), (1000, True), (1001, False), (-5, False)])
def test_line_quantity_range(quantity: int, ok: bool) -> None:
    found = fields(order_pb2.PlaceOrderRequest(customer_id="c", items=[line(quantity=quantity)]))
    assert found == ([] if ok else ["items[0].quantity"])


def test_stock_quantities_stay_inside_a_declared_range() -> None:
    assert only(inventory_pb2.AddStockRequest(product_id="p", quantity=2**62)) == FieldViolation(
        "quantity", "must be within 1..1000000000"
    )
    assert fields(inventory_pb2.AddStockRequest(product_id="p", quantity=1_000_000_000)) == []
    assert fields(inventory_pb2.AuditStockRequest(product_id="p", quantity=-1, expected_version=-1)) == [
        "quantity",
        "expected_version",
    ]


def test_email_syntax_and_length() -> None:
    def email(value: str) -> list[FieldViolation]:
        return request_violations(customer_pb2.CreateCustomerRequest(customer={"name": "Ada", "email": value}))

    assert email("ada@example.com") == []
    assert email("ada lovelace@example") == [
        FieldViolation("customer.email", "not an email address: contains whitespace or control characters")
    ]
    assert [v.description for v in email("a@" + "b" * 1_000_000 + ".com")] == ["at most 254 characters, got 1000006"]
    assert email("") == []  # whether an email is required is the handler's rule


def test_unknown_enum_numbers_are_refused() -> None:
    assert only(order_pb2.ListOrdersRequest(status=99)) == FieldViolation("status", "unknown value 99")
    assert only(notify_pb2.ListNotificationsRequest(status=-1)).field == "status"
    assert fields(order_pb2.ListOrdersRequest(status=order_pb2.ORDER_STATUS_PAID)) == []


def test_messages_the_mesh_does_not_own_are_bounded_too() -> None:
    product = inventory_pb2.Product(name="n", price={"currency_code": "EURO", "units": 10**16})
    assert fields(inventory_pb2.CreateProductRequest(product=product)) == [
        "product.price.currency_code",
        "product.price.units",
    ]
    request = inventory_pb2.UpdateProductRequest(product={"product_id": "p"}, update_mask={"paths": ["name"] * 17})
    assert fields(request) == ["update_mask.paths"]


def test_output_only_fields_are_not_checked() -> None:
    product = inventory_pb2.Product(name="n", available_quantity=-(2**62))
    assert fields(inventory_pb2.CreateProductRequest(product=product)) == []


def test_the_plan_of_a_message_type_is_worked_out_once() -> None:
    descriptor = order_pb2.PlaceOrderRequest.DESCRIPTOR
    assert plan_of(descriptor) is plan_of(descriptor)


def test_the_seed_catalog_fits_the_bounds() -> None:
    for product_id, name, description, cents, units in CATALOG:
        product = inventory_pb2.Product(
            product_id=product_id,
            name=name,
            description=description,
            price={"currency_code": "EUR", "units": cents // 100, "nanos": cents % 100 * 10_000_000},
        )
        assert fields(inventory_pb2.CreateProductRequest(product=product)) == [], product_id
        assert fields(inventory_pb2.AddStockRequest(product_id=product_id, quantity=units or 1)) == []


def request_types() -> list[Descriptor]:
    return [method.input_type for method in rpc_methods()]


def test_every_request_field_declares_its_bounds() -> None:
    """New RPCs and fields are walked automatically: a field without a bound fails here."""
    missing: list[str] = []
    seen: set[str] = set()
    pending = request_types()
    assert len(pending) > 20
    while pending:
        message = pending.pop()
        if message.full_name in seen:
            continue
        seen.add(message.full_name)
        for field in message.fields:
            if is_output_only(field):
                continue
            if field.message_type is not None:
                pending.append(field.message_type)
            if not needs_bounds(field):
                continue
            declared = bounds_of(field)
            if declared is None:
                missing.append(f"{field.full_name}: no bounds")
                continue
            if field.is_repeated and not declared.max_items:
                missing.append(f"{field.full_name}: no max_items")
            if field.type in (field.TYPE_STRING, field.TYPE_BYTES) and not declared.max_len:
                missing.append(f"{field.full_name}: no max_len")
            if is_integer(field) and not declared.has_range:
                missing.append(f"{field.full_name}: no range")
    assert missing == []
