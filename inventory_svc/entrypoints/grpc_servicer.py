"""gRPC InventoryService: requests to use-case calls, results to responses. Nothing else."""

from __future__ import annotations

from typing import Any

import grpc

from inventory_svc.adapters.proto import product_to_pb, stock_to_pb
from inventory_svc.domain.paging import ProductQuery
from inventory_svc.service_layer import catalog, stock
from inventory_svc.service_layer.ports import Dependencies
from oms.inventory.v1 import inventory_pb2 as pb
from oms.inventory.v1 import inventory_pb2_grpc

Context = grpc.aio.ServicerContext[Any, Any]


def _price(product: pb.Product) -> catalog.PriceInput | None:
    if not product.HasField("price"):
        return None
    return catalog.PriceInput(product.price.currency_code, product.price.units, product.price.nanos)


def _present_fields(product: pb.Product) -> list[str]:
    """An empty update_mask means "the fields present": proto3 scalars have no presence, so a
    field counts when it differs from its default (clearing a field needs an explicit mask)."""
    present = [name for name in ("name", "description") if getattr(product, name)]
    if product.HasField("price"):
        present.append("price")
    if product.active:
        present.append("active")
    return present


class InventoryServicer(inventory_pb2_grpc.InventoryServiceServicer):
    """Who may call what is the auth interceptor's (the contract's authorization options):
    no RPC here depends on the caller, so none reads the principal."""

    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    async def ListProducts(self, request: pb.ListProductsRequest, context: Context) -> pb.ListProductsResponse:
        query = ProductQuery(
            active=request.active if request.HasField("active") else None, name_contains=request.name_contains
        )
        page = await catalog.list_products(
            catalog.ListProducts(query, request.page_token, request.page_size), self._deps
        )
        return pb.ListProductsResponse(
            products=[product_to_pb(p) for p in page.products], next_page_token=page.next_page_token
        )

    async def GetProduct(self, request: pb.GetProductRequest, context: Context) -> pb.GetProductResponse:
        product = await catalog.get_product(catalog.GetProduct(request.product_id), self._deps)
        return pb.GetProductResponse(product=product_to_pb(product))

    async def BatchGetProducts(
        self, request: pb.BatchGetProductsRequest, context: Context
    ) -> pb.BatchGetProductsResponse:
        batch = await catalog.batch_get_products(catalog.BatchGetProducts(list(request.product_ids)), self._deps)
        return pb.BatchGetProductsResponse(
            products=[product_to_pb(p) for p in batch.products], missing_product_ids=batch.missing_product_ids
        )

    async def CreateProduct(self, request: pb.CreateProductRequest, context: Context) -> pb.CreateProductResponse:
        given = request.product
        command = catalog.CreateProduct(given.product_id, given.name, given.description, _price(given))
        product = await catalog.create_product(command, self._deps)
        return pb.CreateProductResponse(product=product_to_pb(product))

    async def UpdateProduct(self, request: pb.UpdateProductRequest, context: Context) -> pb.UpdateProductResponse:
        given = request.product
        paths = list(request.update_mask.paths) or _present_fields(given)
        command = catalog.UpdateProduct(
            product_id=given.product_id,
            paths=paths,
            name=given.name,
            description=given.description,
            price=_price(given),
            active=given.active,
        )
        product = await catalog.update_product(command, self._deps)
        return pb.UpdateProductResponse(product=product_to_pb(product))

    async def DeleteProduct(self, request: pb.DeleteProductRequest, context: Context) -> pb.DeleteProductResponse:
        await catalog.delete_product(catalog.DeleteProduct(request.product_id), self._deps)
        return pb.DeleteProductResponse()

    async def GetStock(self, request: pb.GetStockRequest, context: Context) -> pb.GetStockResponse:
        level = await stock.get_stock(stock.GetStock(request.product_id), self._deps)
        return pb.GetStockResponse(stock=stock_to_pb(level))

    async def CheckStock(self, request: pb.CheckStockRequest, context: Context) -> pb.CheckStockResponse:
        checked = await stock.check_stock(stock.CheckStock(list(request.product_ids)), self._deps)
        return pb.CheckStockResponse(available=checked.available, unknown_product_ids=checked.unknown_product_ids)

    async def AddStock(self, request: pb.AddStockRequest, context: Context) -> pb.AddStockResponse:
        command = stock.AddStock(request.product_id, request.quantity, reason=request.reason)
        level = await stock.add_stock(command, self._deps)
        return pb.AddStockResponse(stock=stock_to_pb(level))

    async def AuditStock(self, request: pb.AuditStockRequest, context: Context) -> pb.AuditStockResponse:
        command = stock.AuditStock(
            request.product_id, request.quantity, request.expected_version, reason=request.reason
        )
        level = await stock.audit_stock(command, self._deps)
        return pb.AuditStockResponse(stock=stock_to_pb(level))
