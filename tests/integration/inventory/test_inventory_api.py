"""The gRPC API in-process against the real PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import grpc
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mesh.auth.minting import mint_token
from oms.inventory.v1 import inventory_pb2 as pb
from tests.integration.inventory.conftest import AppFactory
from tests.integration.inventory.helpers import InventoryApp, cache_hits, cancelled, eur, new_product, placed, unique

if TYPE_CHECKING:
    from oms.inventory.v1.inventory_pb2_grpc import InventoryServiceAsyncStub as InventoryServiceStub

pytestmark = pytest.mark.integration
StubFactory = Callable[[InventoryApp], Awaitable["InventoryServiceStub"]]


def _violations(error: grpc.aio.AioRpcError) -> list[str]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            fields += [v.field for v in bad.field_violations]
    return fields


async def _stocked(stub: InventoryServiceStub, quantity: int) -> pb.Stock:
    product = (await stub.CreateProduct(new_product(unique("p")))).product
    return (await stub.AddStock(pb.AddStockRequest(product_id=product.product_id, quantity=quantity))).stock


async def test_bad_product_names_each_field(stub: InventoryServiceStub) -> None:
    bad = pb.Product(product_id="Not Valid", name="", price=eur(-1, 5))
    # Within the declared bounds (3 characters), so the catalog's own rules name every field;
    # "EURO" would be refused at the edge, alone, before the catalog looks.
    bad.price.currency_code = "eu1"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateProduct(pb.CreateProductRequest(product=bad))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(_violations(caught.value)) == {
        "product.product_id",
        "product.name",
        "product.price.currency_code",
        "product.price.units",
        "product.price.nanos",
    }


async def test_duplicate_product_already_exists(stub: InventoryServiceStub) -> None:
    product_id = unique("p")
    await stub.CreateProduct(new_product(product_id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateProduct(new_product(product_id))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_update_with_mask_and_bad_path(stub: InventoryServiceStub) -> None:
    product_id = (await stub.CreateProduct(new_product(unique("p")))).product.product_id
    change = pb.Product(product_id=product_id, name="Renamed", description="ignored")
    updated = await stub.UpdateProduct(
        pb.UpdateProductRequest(product=change, update_mask=field_mask_pb2.FieldMask(paths=["name"]))
    )
    assert (updated.product.name, updated.product.description) == ("Renamed", "")
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.UpdateProduct(
            pb.UpdateProductRequest(product=change, update_mask=field_mask_pb2.FieldMask(paths=["product_id"]))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _violations(caught.value) == ["update_mask.paths[0]"]


async def test_audit_with_stale_version_is_aborted_and_changes_nothing(stub: InventoryServiceStub) -> None:
    stock = await _stocked(stub, 10)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.AuditStock(
            pb.AuditStockRequest(product_id=stock.product_id, quantity=7, expected_version=stock.version - 1)
        )
    assert caught.value.code() == grpc.StatusCode.ABORTED
    assert (await stub.GetStock(pb.GetStockRequest(product_id=stock.product_id))).stock == stock
    audited = await stub.AuditStock(
        pb.AuditStockRequest(product_id=stock.product_id, quantity=7, expected_version=stock.version)
    )
    assert (audited.stock.quantity, audited.stock.version) == (7, stock.version + 1)


async def test_audit_below_reserved_is_refused(inventory: InventoryApp, stub: InventoryServiceStub) -> None:
    stock = await _stocked(stub, 10)
    await inventory.event_handlers().order_placed(placed(unique("o"), (stock.product_id, 6)))
    current = (await stub.GetStock(pb.GetStockRequest(product_id=stock.product_id))).stock
    assert current.reserved == 6
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.AuditStock(
            pb.AuditStockRequest(product_id=stock.product_id, quantity=5, expected_version=current.version)
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert (await stub.GetStock(pb.GetStockRequest(product_id=stock.product_id))).stock == current


async def test_check_stock_lists_unknown_ids_apart(stub: InventoryServiceStub) -> None:
    stock = await _stocked(stub, 3)
    ghost = unique("ghost")
    answer = await stub.CheckStock(pb.CheckStockRequest(product_ids=[stock.product_id, ghost]))
    assert dict(answer.available) == {stock.product_id: 3}
    assert list(answer.unknown_product_ids) == [ghost]


async def test_delete_refused_while_reserved_then_allowed(inventory: InventoryApp, stub: InventoryServiceStub) -> None:
    stock = await _stocked(stub, 3)
    order_id = unique("o")
    await inventory.event_handlers().order_placed(placed(order_id, (stock.product_id, 1)))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.DeleteProduct(pb.DeleteProductRequest(product_id=stock.product_id))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    await inventory.event_handlers().order_cancelled(cancelled(order_id))
    await stub.DeleteProduct(pb.DeleteProductRequest(product_id=stock.product_id))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.GetProduct(pb.GetProductRequest(product_id=stock.product_id))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_pages_are_complete_while_products_are_added(stub: InventoryServiceStub) -> None:
    prefix = unique("pg")
    originals = [f"{prefix}-{i:03d}" for i in range(0, 40, 2)]
    for product_id in originals:
        await stub.CreateProduct(new_product(product_id, name=f"Paged {prefix}"))
    seen: list[str] = []
    token = ""
    for page_number in range(100):
        page = await stub.ListProducts(pb.ListProductsRequest(page_size=3, page_token=token, name_contains=prefix))
        seen += [p.product_id for p in page.products]
        # Products appear before and after the cursor between pages.
        await stub.CreateProduct(new_product(f"{prefix}-{page_number * 2 + 1:03d}", name=f"Paged {prefix}"))
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)), "a product was listed twice"
    assert set(originals) <= set(seen), "a product that existed before the first page was skipped"
    assert seen == sorted(seen)


async def test_name_filter_escapes_wildcards(stub: InventoryServiceStub) -> None:
    tag = unique("w")
    await stub.CreateProduct(new_product(unique("p"), name=f"{tag} 100% cotton"))
    await stub.CreateProduct(new_product(unique("p"), name=f"{tag} 100 cotton"))
    page = await stub.ListProducts(pb.ListProductsRequest(name_contains=f"{tag} 100%"))
    assert [p.name for p in page.products] == [f"{tag} 100% cotton"]


async def test_reads_after_writes_are_never_stale(inventory: InventoryApp, stub: InventoryServiceStub) -> None:
    stock = await _stocked(stub, 5)
    product_id = stock.product_id
    listing = pb.ListProductsRequest(name_contains="Widget", page_size=500)
    # Warm every cache entry, twice, so the second reads are hits.
    hits = cache_hits()
    for _ in range(2):
        await stub.GetProduct(pb.GetProductRequest(product_id=product_id))
        await stub.GetStock(pb.GetStockRequest(product_id=product_id))
        await stub.ListProducts(listing)
    assert cache_hits() >= hits + 3, "the cache was not used, so this test would prove nothing"
    await stub.AddStock(pb.AddStockRequest(product_id=product_id, quantity=2))
    assert (await stub.GetProduct(pb.GetProductRequest(product_id=product_id))).product.available_quantity == 7
    assert (await stub.GetStock(pb.GetStockRequest(product_id=product_id))).stock.quantity == 7
    await inventory.event_handlers().order_placed(placed(unique("o"), (product_id, 3)))
    assert (await stub.GetStock(pb.GetStockRequest(product_id=product_id))).stock.available == 4
    listed = {p.product_id: p for p in (await stub.ListProducts(listing)).products}
    assert listed[product_id].available_quantity == 4
    mask = field_mask_pb2.FieldMask(paths=["name"])
    await stub.UpdateProduct(
        pb.UpdateProductRequest(product=pb.Product(product_id=product_id, name="Widget XL"), update_mask=mask)
    )
    assert (await stub.GetProduct(pb.GetProductRequest(product_id=product_id))).product.name == "Widget XL"
    listed = {p.product_id: p for p in (await stub.ListProducts(listing)).products}
    assert listed[product_id].name == "Widget XL"
    created = (await stub.CreateProduct(new_product(unique("p")))).product.product_id
    assert created in {p.product_id for p in (await stub.ListProducts(listing)).products}


async def test_admin_methods_need_an_admin_token(make_inventory: AppFactory, stub_for: StubFactory) -> None:
    stub = await stub_for(await make_inventory(auth=True))
    add = pb.AddStockRequest(product_id=unique("p"), quantity=1)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.AddStock(add)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    customer = (("authorization", f"Bearer {mint_token('c1', ['customer'])}"),)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.CreateProduct(new_product(unique("p")), metadata=customer)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    admin = (("authorization", f"Bearer {mint_token('a1', ['admin'])}"),)
    created = (await stub.CreateProduct(new_product(unique("p")), metadata=admin)).product
    got = await stub.GetProduct(pb.GetProductRequest(product_id=created.product_id), metadata=customer)
    assert got.product == created
