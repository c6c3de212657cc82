"""BatchGetProducts over gRPC against the real PostgreSQL: one query, request order, missing ids."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import event

from oms.inventory.v1 import inventory_pb2 as pb
from tests.integration.inventory.helpers import InventoryApp, new_product, unique

if TYPE_CHECKING:
    from oms.inventory.v1.inventory_pb2_grpc import InventoryServiceAsyncStub as InventoryServiceStub

pytestmark = pytest.mark.integration


async def test_found_in_request_order_duplicates_collapsed_missing_listed(
    inventory: InventoryApp, stub: InventoryServiceStub
) -> None:
    ids = [(await stub.CreateProduct(new_product(unique("p")))).product.product_id for _ in range(3)]
    await stub.UpdateProduct(
        pb.UpdateProductRequest(
            product=pb.Product(product_id=ids[1], active=False), update_mask=field_mask_pb2.FieldMask(paths=["active"])
        )
    )
    await stub.AddStock(pb.AddStockRequest(product_id=ids[2], quantity=7))
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM products" in statement:
            statements.append(statement)

    event.listen(inventory.connections.engine.sync_engine, "before_cursor_execute", count)
    try:
        asked = [ids[2], "nope-1", ids[0], ids[2], ids[1], "nope-2"]
        reply = await stub.BatchGetProducts(pb.BatchGetProductsRequest(product_ids=asked))
    finally:
        event.remove(inventory.connections.engine.sync_engine, "before_cursor_execute", count)
    assert [p.product_id for p in reply.products] == [ids[2], ids[0], ids[1]]
    assert [p.active for p in reply.products] == [True, True, False]  # inactive ones are found too
    assert reply.products[0].available_quantity == 7
    assert list(reply.missing_product_ids) == ["nope-1", "nope-2"]
    assert len(statements) == 1 and "ANY" in statements[0]


async def test_one_hundred_unknown_ids_is_one_answer(stub: InventoryServiceStub) -> None:
    asked = [unique("x") + "-" + "y" * 100 for _ in range(100)]
    reply = await stub.BatchGetProducts(pb.BatchGetProductsRequest(product_ids=asked))
    assert list(reply.missing_product_ids) == asked and not reply.products


@pytest.mark.parametrize(
    ("product_ids", "field"),
    [
        ([], "product_ids"),
        ([f"p-{i}" for i in range(101)], "product_ids"),
        (["p-1", ""], "product_ids[1]"),
        (["p-1", "x" * 129], "product_ids[1]"),
    ],
)
async def test_out_of_bounds_requests_are_invalid_argument(
    stub: InventoryServiceStub, product_ids: list[str], field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.BatchGetProducts(pb.BatchGetProductsRequest(product_ids=product_ids))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (caught.value.details() or "")
    assert "x" * 129 not in (caught.value.details() or "")
