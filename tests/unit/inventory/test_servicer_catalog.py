"""InventoryServicer's catalog RPCs under grpcio-testing, on fakes: request → command (masks,
presence, prices), result → response, domain error → status code with BadRequest details."""

from __future__ import annotations

from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from google.type import money_pb2

from inventory_svc.domain.model import Line, Money, Product, Reservation, StockLevel
from inventory_svc.entrypoints.grpc_servicer import InventoryServicer
from oms.inventory.v1 import inventory_pb2 as pb
from testkit.grpc_in_process import InProcess
from tests.unit.inventory.fakes import Fakes

SERVICE = pb.DESCRIPTOR.services_by_name["InventoryService"]
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _add(fakes: Fakes, product_id: str, *, units: int = 0, active: bool = True) -> None:
    fakes.store.products[product_id] = Product(
        product_id, product_id.title(), "", Money("EUR", 1250), active, created_at=CREATED, updated_at=CREATED
    )
    fakes.store.stock[product_id] = StockLevel(product_id, units, 0, 1)


@pytest.fixture
def fakes() -> Fakes:
    return Fakes()


@pytest.fixture
def harness(fakes: Fakes) -> InProcess:
    return InProcess(InventoryServicer(fakes.deps()), SERVICE)


def eur(units: int, nanos: int = 0) -> money_pb2.Money:
    return money_pb2.Money(currency_code="EUR", units=units, nanos=nanos)


def test_create_translates_the_product_and_answers_it(fakes: Fakes, harness: InProcess) -> None:
    given = pb.Product(product_id="mug", name="  Mug ", description="blue", price=eur(4, 500_000_000))
    reply = harness.unary("CreateProduct", pb.CreateProductRequest(product=given))
    assert reply.code is grpc.StatusCode.OK
    assert fakes.store.products["mug"].price == Money("EUR", 450) and fakes.store.products["mug"].name == "Mug"
    product = reply.response.product
    assert (product.product_id, product.name, product.description, product.active) == ("mug", "Mug", "blue", True)
    assert (product.price.currency_code, product.price.units, product.price.nanos) == ("EUR", 4, 500_000_000)
    assert product.available_quantity == 0


def test_create_without_a_price_names_the_price(harness: InProcess) -> None:
    reply = harness.unary("CreateProduct", pb.CreateProductRequest(product=pb.Product(name="Mug")))
    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert reply.field_violations == [("product.price", "is required")]


def test_create_reports_every_bad_field_by_its_request_path(fakes: Fakes, harness: InProcess) -> None:
    # Within the contract's bounds (the request checks let it through), wrong for the catalog.
    given = pb.Product(product_id="Bad Id", name=" ", price=money_pb2.Money(currency_code="eu", units=1, nanos=3))
    reply = harness.unary("CreateProduct", pb.CreateProductRequest(product=given))
    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in reply.field_violations] == [
        "product.product_id",
        "product.name",
        "product.price.currency_code",
        "product.price.nanos",
    ]
    assert fakes.store.products == {} and fakes.commits == 0


def test_create_of_a_taken_id_already_exists(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "mug")
    reply = harness.unary(
        "CreateProduct", pb.CreateProductRequest(product=pb.Product(product_id="mug", name="M", price=eur(1)))
    )
    assert reply.code is grpc.StatusCode.ALREADY_EXISTS
    assert reply.detail(error_details_pb2.ErrorInfo).metadata["product_id"] == "mug"


def test_get_product_answers_stock_and_times(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "mug", units=7)
    product = harness.unary("GetProduct", pb.GetProductRequest(product_id="mug")).response.product
    assert product.available_quantity == 7
    assert product.create_time.ToDatetime(tzinfo=UTC) == CREATED == product.update_time.ToDatetime(tzinfo=UTC)


def test_get_product_of_an_unknown_id_is_not_found(harness: InProcess) -> None:
    reply = harness.unary("GetProduct", pb.GetProductRequest(product_id="ghost"))
    assert reply.code is grpc.StatusCode.NOT_FOUND and reply.reason == "NOT_FOUND"


def test_an_empty_mask_updates_the_fields_present(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "mug")
    reply = harness.unary("UpdateProduct", pb.UpdateProductRequest(product=pb.Product(product_id="mug", name="Cup")))
    stored = fakes.store.products["mug"]
    assert (stored.name, stored.active, stored.price) == ("Cup", True, Money("EUR", 1250))
    assert reply.response.product.name == "Cup"


def test_an_explicit_mask_can_clear_a_default_field(fakes: Fakes, harness: InProcess) -> None:
    """``active: false`` is proto3's default, absent from an empty mask's view: only a mask names it."""
    _add(fakes, "mug")
    request = pb.UpdateProductRequest(
        product=pb.Product(product_id="mug", name="ignored"), update_mask=field_mask_pb2.FieldMask(paths=["active"])
    )
    reply = harness.unary("UpdateProduct", request)
    assert reply.response.product.active is False and fakes.store.products["mug"].name == "Mug"


def test_a_mask_of_an_immutable_field_names_the_path(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "mug")
    request = pb.UpdateProductRequest(
        product=pb.Product(product_id="mug"), update_mask=field_mask_pb2.FieldMask(paths=["name", "product_id"])
    )
    reply = harness.unary("UpdateProduct", request)
    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert reply.field_violations == [
        ("update_mask.paths[1]", "product_id is immutable"),
        ("product.name", "must not be empty"),
    ]


def test_a_price_part_alone_keeps_the_rest(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "mug")
    request = pb.UpdateProductRequest(
        product=pb.Product(product_id="mug", price=money_pb2.Money(units=3)),
        update_mask=field_mask_pb2.FieldMask(paths=["price.units"]),
    )
    price = harness.unary("UpdateProduct", request).response.product.price
    assert (price.currency_code, price.units, price.nanos) == ("EUR", 3, 500_000_000)


def test_list_filters_on_active_only_when_it_is_set(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "a")
    _add(fakes, "b", active=False)
    every = harness.unary("ListProducts", pb.ListProductsRequest()).response
    assert [p.product_id for p in every.products] == ["a", "b"]
    inactive = harness.unary("ListProducts", pb.ListProductsRequest(active=False)).response
    assert [p.product_id for p in inactive.products] == ["b"]


def test_list_pages_with_the_token_it_answered(fakes: Fakes, harness: InProcess) -> None:
    for product_id in ("a", "b", "c"):
        _add(fakes, product_id)
    first = harness.unary("ListProducts", pb.ListProductsRequest(page_size=2)).response
    second = harness.unary("ListProducts", pb.ListProductsRequest(page_size=2, page_token=first.next_page_token))
    assert [p.product_id for p in first.products] == ["a", "b"]
    assert [p.product_id for p in second.response.products] == ["c"] and second.response.next_page_token == ""


def test_a_forged_page_token_names_the_field(harness: InProcess) -> None:
    reply = harness.unary("ListProducts", pb.ListProductsRequest(page_token="not-a-token"))
    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in reply.field_violations] == ["page_token"]


def test_batch_get_answers_in_the_order_asked_and_lists_the_missing(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "a")
    _add(fakes, "b")
    reply = harness.unary("BatchGetProducts", pb.BatchGetProductsRequest(product_ids=["b", "ghost", "a", "b"]))
    assert [p.product_id for p in reply.response.products] == ["b", "a"]
    assert list(reply.response.missing_product_ids) == ["ghost"]


def test_batch_get_names_each_empty_id_by_index(harness: InProcess) -> None:
    reply = harness.unary("BatchGetProducts", pb.BatchGetProductsRequest(product_ids=["a", ""]))
    assert reply.field_violations == [("product_ids[1]", "must not be empty")]


def test_delete_of_a_held_product_is_a_failed_precondition_with_its_subject(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "mug", units=2)
    fakes.store.reservations["o1"] = Reservation("o1", [Line("mug", 1)])
    reply = harness.unary("DeleteProduct", pb.DeleteProductRequest(product_id="mug"))
    assert reply.code is grpc.StatusCode.FAILED_PRECONDITION
    failure = reply.detail(error_details_pb2.PreconditionFailure)
    assert [(v.type, v.subject) for v in failure.violations] == [("RESERVATION", "products/mug")]
    assert "mug" in fakes.store.products


def test_delete_answers_an_empty_response(fakes: Fakes, harness: InProcess) -> None:
    _add(fakes, "mug")
    reply = harness.unary("DeleteProduct", pb.DeleteProductRequest(product_id="mug"))
    assert reply.code is grpc.StatusCode.OK and reply.response == pb.DeleteProductResponse()
    assert "mug" not in fakes.store.products and fakes.cache.evicted == ["mug"]
