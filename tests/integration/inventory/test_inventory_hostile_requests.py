"""Hostile gRPC requests against the real inventory server: refused before any work, never UNKNOWN."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.serving.bounds import MAX_REQUEST_BYTES
from oms.inventory.v1 import inventory_pb2 as pb
from tests.integration.inventory.conftest import start_server
from tests.integration.inventory.helpers import InventoryApp, new_product, unique

if TYPE_CHECKING:
    from oms.inventory.v1.inventory_pb2_grpc import InventoryServiceAsyncStub as InventoryServiceStub

pytestmark = pytest.mark.integration


def status_details(error: grpc.aio.AioRpcError) -> tuple[str, list[tuple[str, str]]]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    reason, violations = "", []
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason = info.reason
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations += [(v.field, v.description) for v in bad.field_violations]
    return reason, violations


async def test_a_ten_thousand_character_id_is_invalid_argument_with_a_short_message(
    stub: InventoryServiceStub,
) -> None:
    for call in (
        stub.GetProduct(pb.GetProductRequest(product_id="x" * 10_000)),
        stub.GetStock(pb.GetStockRequest(product_id="x" * 10_000)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert len(caught.value.details() or "") < 300
        assert status_details(caught.value)[1] == [("product_id", "at most 128 characters, got 10000")]


async def test_an_unknown_id_within_the_bound_is_not_found_and_quoted_short(stub: InventoryServiceStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetProduct(pb.GetProductRequest(product_id="z" * 128))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert len(caught.value.details() or "") < 150


async def test_oversized_fields_are_named_and_nothing_is_written(stub: InventoryServiceStub) -> None:
    product_id = unique("p")
    product = new_product(product_id)
    product.product.description = "d" * 4001
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateProduct(product)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in status_details(caught.value)[1]] == ["product.description"]
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetProduct(pb.GetProductRequest(product_id=product_id))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as too_many:
        await stub.CheckStock(pb.CheckStockRequest(product_ids=["p"] * 501))
    assert status_details(too_many.value)[1] == [("product_ids", "at most 500 entries, got 501")]


async def test_stock_quantities_past_the_declared_range_are_refused(stub: InventoryServiceStub) -> None:
    created = (await stub.CreateProduct(new_product(unique("p")))).product
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.AddStock(pb.AddStockRequest(product_id=created.product_id, quantity=2**63 - 1))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in status_details(caught.value)[1]] == ["quantity"]
    stock = (await stub.GetStock(pb.GetStockRequest(product_id=created.product_id))).stock
    assert stock.quantity == 0


async def test_bytes_that_are_not_protobuf_are_invalid_argument_on_every_rpc(inventory: InventoryApp) -> None:
    stop, task, port = await start_server(inventory)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            service = pb.DESCRIPTOR.services_by_name["InventoryService"]
            for method in service.methods:
                call = channel.unary_unary(
                    f"/{service.full_name}/{method.name}", request_serializer=None, response_deserializer=None
                )
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await call(b"\xff\xff\xff", timeout=10)
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method.name
                assert status_details(caught.value)[0] == "UNDECODABLE_REQUEST", method.name
            # Past the receive limit, gRPC itself refuses it (before decoding), not as UNKNOWN.
            huge = channel.unary_unary(
                f"/{service.full_name}/CheckStock", request_serializer=None, response_deserializer=None
            )
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await huge(b"\x0a\x01p" * (MAX_REQUEST_BYTES // 3 + 1), timeout=10)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        stop.set()
        await task
