"""InventoryServicer's stock RPCs under grpcio-testing, on fakes: request → command, result →
response, domain error → status code with its details."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import grpc
import pytest

from inventory_svc.domain.model import MAX_STOCK, Money, Product, StockLevel
from inventory_svc.entrypoints.grpc_servicer import InventoryServicer
from mesh.auth.principal import ANONYMOUS, ROLE_ADMIN, ROLE_CUSTOMER, SYNTHETIC_ADMIN, Principal
from oms.inventory.v1 import inventory_pb2 as pb
from testkit.grpc_in_process import InProcess
from tests.unit.inventory.fakes import Fakes

SERVICE = pb.DESCRIPTOR.services_by_name["InventoryService"]
COUNTED_AT = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)


@pytest.fixture
def fakes() -> Fakes:
    fakes = Fakes()
    fakes.store.products["mug"] = Product("mug", "Mug", "", Money("EUR", 500), True)
    fakes.store.stock["mug"] = StockLevel("mug", 5, 2, 3, COUNTED_AT)
    return fakes


@pytest.fixture
def harness(fakes: Fakes) -> InProcess:
    return InProcess(InventoryServicer(fakes.deps()), SERVICE)


def test_get_stock_answers_every_field_with_the_time(harness: InProcess) -> None:
    reply = harness.unary("GetStock", pb.GetStockRequest(product_id="mug"))
    assert reply.code is grpc.StatusCode.OK
    stock = reply.response.stock
    assert (stock.product_id, stock.quantity, stock.reserved, stock.available, stock.version) == ("mug", 5, 2, 3, 3)
    assert stock.update_time.ToDatetime(tzinfo=UTC) == COUNTED_AT


def test_an_unknown_time_stays_an_unset_field(fakes: Fakes, harness: InProcess) -> None:
    fakes.store.stock["mug"] = StockLevel("mug", 5, 0, 3)
    stock = harness.unary("GetStock", pb.GetStockRequest(product_id="mug")).response.stock
    assert not stock.HasField("update_time")


def test_get_stock_of_nothing_names_the_field(harness: InProcess) -> None:
    reply = harness.unary("GetStock", pb.GetStockRequest())
    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert reply.field_violations == [("product_id", "must not be empty")]
    assert reply.reason == "INVALID_ARGUMENT"


def test_get_stock_of_an_unknown_product_is_not_found(harness: InProcess) -> None:
    reply = harness.unary("GetStock", pb.GetStockRequest(product_id="ghost"))
    assert reply.code is grpc.StatusCode.NOT_FOUND
    assert "ghost" in reply.details


def test_check_stock_maps_known_and_unknown_ids(harness: InProcess) -> None:
    reply = harness.unary("CheckStock", pb.CheckStockRequest(product_ids=["mug", "ghost", "mug"]))
    assert dict(reply.response.available) == {"mug": 3}
    assert list(reply.response.unknown_product_ids) == ["ghost"]


def test_add_stock_is_applied_and_answered(fakes: Fakes, harness: InProcess) -> None:
    reply = harness.unary("AddStock", pb.AddStockRequest(product_id="mug", quantity=4, reason="delivery 17"))
    assert (reply.response.stock.quantity, reply.response.stock.version) == (9, 4)
    assert fakes.store.stock["mug"].quantity == 9 and fakes.commits == 1


def test_add_stock_of_zero_units_names_quantity(fakes: Fakes, harness: InProcess) -> None:
    reply = harness.unary("AddStock", pb.AddStockRequest(product_id="mug", quantity=0))
    assert reply.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in reply.field_violations] == ["quantity"]
    assert fakes.commits == 0


def test_add_stock_past_the_limit_is_a_failed_precondition(fakes: Fakes, harness: InProcess) -> None:
    fakes.store.stock["mug"] = StockLevel("mug", MAX_STOCK - 1, 0, 3)
    reply = harness.unary("AddStock", pb.AddStockRequest(product_id="mug", quantity=2))
    assert reply.code is grpc.StatusCode.FAILED_PRECONDITION
    assert reply.reason == "STOCK_LIMIT"


def test_audit_passes_count_version_and_reason(
    fakes: Fakes, harness: InProcess, caplog: pytest.LogCaptureFixture
) -> None:
    request = pb.AuditStockRequest(product_id="mug", quantity=4, expected_version=3, reason="stock take")
    with caplog.at_level(logging.INFO, logger="inventory_svc.service_layer.stock"):
        reply = harness.unary("AuditStock", request)
    assert (reply.response.stock.quantity, reply.response.stock.available) == (4, 2)
    assert [getattr(r, "reason", None) for r in caplog.records if r.getMessage() == "stock audited"] == ["stock take"]


def test_audit_with_a_stale_version_is_aborted(fakes: Fakes, harness: InProcess) -> None:
    reply = harness.unary("AuditStock", pb.AuditStockRequest(product_id="mug", quantity=4, expected_version=2))
    assert reply.code is grpc.StatusCode.ABORTED
    assert fakes.store.stock["mug"].quantity == 5


@pytest.mark.parametrize(
    "principal",
    [
        SYNTHETIC_ADMIN,
        Principal("ops-1", frozenset({ROLE_ADMIN})),
        Principal("c-1", frozenset({ROLE_CUSTOMER})),
        ANONYMOUS,
    ],
)
def test_no_answer_depends_on_the_caller(harness: InProcess, principal: Principal) -> None:
    """Who may call which RPC is the auth interceptor's (the contract's rules); the servicer
    itself answers every caller alike."""
    reply = harness.unary("GetStock", pb.GetStockRequest(product_id="mug"), principal=principal)
    assert reply.code is grpc.StatusCode.OK and reply.response.stock.available == 3
