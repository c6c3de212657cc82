"""A partial update of the price (a leaf path of the mask) against the real PostgreSQL, over gRPC
and through the HTTP gateway (in-process), whose PATCH mask names the body's leaves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc
import httpx
import pytest
from google.protobuf import field_mask_pb2
from google.type import money_pb2

from gateway.app import create_app
from gateway.settings import GatewaySettings
from mesh.auth.settings import AuthSettings
from oms.inventory.v1 import inventory_pb2 as pb
from oms.inventory.v1.inventory_pb2_grpc import InventoryServiceStub
from tests.integration.inventory.conftest import AppFactory, start_server
from tests.integration.inventory.helpers import new_product, unique

if TYPE_CHECKING:
    from oms.inventory.v1.inventory_pb2_grpc import InventoryServiceAsyncStub

pytestmark = pytest.mark.integration


async def _price(stub: InventoryServiceAsyncStub, product_id: str) -> money_pb2.Money:
    return (await stub.GetProduct(pb.GetProductRequest(product_id=product_id))).product.price


async def test_a_mask_naming_price_units_keeps_currency_and_cents(stub: InventoryServiceAsyncStub) -> None:
    product_id = (await stub.CreateProduct(new_product(unique("p")))).product.product_id  # EUR 4.50
    change = pb.Product(product_id=product_id, price=money_pb2.Money(units=9))
    mask = field_mask_pb2.FieldMask(paths=["price.units"])
    await stub.UpdateProduct(pb.UpdateProductRequest(product=change, update_mask=mask))
    assert await _price(stub, product_id) == money_pb2.Money(currency_code="EUR", units=9, nanos=500_000_000)
    change = pb.Product(product_id=product_id, price=money_pb2.Money(currency_code="usd", nanos=10_000_000))
    mask = field_mask_pb2.FieldMask(paths=["price.currency_code", "price.nanos"])
    await stub.UpdateProduct(pb.UpdateProductRequest(product=change, update_mask=mask))
    assert await _price(stub, product_id) == money_pb2.Money(currency_code="USD", units=9, nanos=10_000_000)


async def test_gateway_patch_of_price_units_keeps_the_currency(make_inventory: AppFactory) -> None:
    stop, task, port = await start_server(await make_inventory())
    address = f"127.0.0.1:{port}"
    try:
        async with grpc.aio.insecure_channel(address) as channel:
            stub: InventoryServiceAsyncStub = InventoryServiceStub(channel)  # type: ignore[assignment]
            product_id = (await stub.CreateProduct(new_product(unique("p")))).product.product_id  # EUR 4.50
            app = create_app(GatewaySettings(inventory_addr=address), AuthSettings(enabled=False))
            transport = httpx.ASGITransport(app=app)
            async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://gw.test") as http:
                reply = await http.patch(f"/products/{product_id}", json={"price": {"units": "5"}})
            assert reply.status_code == 200, reply.text
            expected = {"currencyCode": "EUR", "units": "5", "nanos": 500_000_000}
            assert reply.json()["product"]["price"] == expected
            assert await _price(stub, product_id) == money_pb2.Money(currency_code="EUR", units=5, nanos=500_000_000)
    finally:
        stop.set()
        await task
