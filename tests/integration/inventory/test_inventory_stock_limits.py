"""Stock within 0..MAX_STOCK against the real PostgreSQL: the API refuses what would pass it
(never "bigint out of range" as INTERNAL), writes nothing when it does, and the database's own
CHECK constraints (migration `stock_limits`) refuse any other writer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import pytest
import sqlalchemy as sa
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sqlalchemy.exc import IntegrityError

from inventory_svc.adapters.tables import reservation_items, reservations, stock
from inventory_svc.domain.model import MAX_STOCK
from oms.inventory.v1 import events_pb2 as inventory_events
from oms.inventory.v1 import inventory_pb2 as pb
from tests.integration.inventory.helpers import InventoryApp, level, new_product, outbox, unique

if TYPE_CHECKING:
    from oms.inventory.v1.inventory_pb2_grpc import InventoryServiceAsyncStub as InventoryServiceStub

pytestmark = pytest.mark.integration


async def _product(stub: InventoryServiceStub) -> str:
    return (await stub.CreateProduct(new_product(unique("p")))).product.product_id


async def test_add_stock_to_the_maximum_then_one_more_is_refused_and_nothing_is_written(
    inventory: InventoryApp, stub: InventoryServiceStub
) -> None:
    product_id = await _product(stub)
    await stub.AddStock(pb.AddStockRequest(product_id=product_id, quantity=MAX_STOCK - 1))
    full = (await stub.AddStock(pb.AddStockRequest(product_id=product_id, quantity=1))).stock
    assert full.quantity == MAX_STOCK
    events_before = await outbox(inventory, inventory_events.StockLevelChanged)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.AddStock(pb.AddStockRequest(product_id=product_id, quantity=1))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    status = rpc_status.from_call(refused.value)  # type: ignore[arg-type]
    assert status is not None
    [packed] = [d for d in status.details if d.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR)]
    failure = error_details_pb2.PreconditionFailure()
    packed.Unpack(failure)
    assert failure.violations[0].type == "STOCK_LIMIT"
    assert failure.violations[0].description.startswith("quantity:")

    after = await level(inventory, product_id)
    assert (after.quantity, after.version) == (MAX_STOCK, full.version)
    assert await outbox(inventory, inventory_events.StockLevelChanged) == events_before


@pytest.mark.parametrize("quantity", [MAX_STOCK + 1, 2**62, 2**63 - 1])
async def test_an_add_past_any_stock_is_invalid_argument_naming_quantity(
    inventory: InventoryApp, stub: InventoryServiceStub, quantity: int
) -> None:
    product_id = await _product(stub)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.AddStock(pb.AddStockRequest(product_id=product_id, quantity=quantity))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "quantity" in (refused.value.details() or "")
    assert (await level(inventory, product_id)).quantity == 0


async def test_an_audit_count_past_the_maximum_is_invalid_argument(
    inventory: InventoryApp, stub: InventoryServiceStub
) -> None:
    product_id = await _product(stub)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.AuditStock(pb.AuditStockRequest(product_id=product_id, quantity=2**63 - 1, expected_version=0))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    audited = await stub.AuditStock(pb.AuditStockRequest(product_id=product_id, quantity=MAX_STOCK, expected_version=0))
    assert audited.stock.quantity == MAX_STOCK


async def test_the_database_itself_refuses_stock_past_the_maximum(
    inventory: InventoryApp, stub: InventoryServiceStub
) -> None:
    product_id = await _product(stub)
    row = sa.update(stock).where(stock.c.product_id == product_id)
    for statement, constraint in (
        (row.values(quantity=MAX_STOCK + 1), "stock_quantity_at_most_max"),
        (row.values(quantity=5, reserved=6), "stock_available_not_negative"),
    ):
        async with inventory.connections.sessions() as session:
            with pytest.raises(IntegrityError, match=constraint):
                await session.execute(statement)
    order_id = unique("o")
    async with inventory.connections.sessions() as session:
        await session.execute(sa.insert(reservations).values(order_id=order_id, status="RESERVED"))
        with pytest.raises(IntegrityError, match="reservation_items_quantity_at_most_max"):
            await session.execute(
                sa.insert(reservation_items).values(order_id=order_id, product_id=product_id, quantity=MAX_STOCK + 1)
            )
