"""Thin gRPC helpers for tests: seed products and customers, place and follow orders."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import grpc

from oms.inventory.v1 import inventory_pb2, inventory_pb2_grpc
from oms.order.v1 import customer_pb2, customer_pb2_grpc, order_pb2, order_pb2_grpc
from testkit.wait import eventually

Metadata = Sequence[tuple[str, str]]

FINAL = {order_pb2.ORDER_STATUS_REJECTED, order_pb2.ORDER_STATUS_DELIVERED, order_pb2.ORDER_STATUS_CANCELLED}


def _wire(metadata: Metadata) -> tuple[tuple[str, str | bytes], ...]:
    """The tuple of pairs grpc's stubs are annotated with (callers pass lists too)."""
    return tuple(metadata)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Clients:
    orders: order_pb2_grpc.OrderServiceAsyncStub
    customers: customer_pb2_grpc.CustomerServiceAsyncStub
    inventory: inventory_pb2_grpc.InventoryServiceAsyncStub
    admin: Metadata

    @classmethod
    def connect(cls, order_channel: grpc.aio.Channel, inventory_channel: grpc.aio.Channel, admin: Metadata) -> Clients:
        return cls(
            order_pb2_grpc.OrderServiceStub(order_channel),
            customer_pb2_grpc.CustomerServiceStub(order_channel),
            inventory_pb2_grpc.InventoryServiceStub(inventory_channel),
            admin,
        )

    async def product(self, *, stock: int, price_cents: int = 1250, name: str = "Test widget") -> str:
        product_id = unique("p")
        units, cents = divmod(price_cents, 100)
        await self.inventory.CreateProduct(
            inventory_pb2.CreateProductRequest(
                product=inventory_pb2.Product(
                    product_id=product_id,
                    name=name,
                    active=True,
                    price={"currency_code": "EUR", "units": units, "nanos": cents * 10_000_000},
                )
            ),
            metadata=_wire(self.admin),
        )
        if stock:
            await self.inventory.AddStock(
                inventory_pb2.AddStockRequest(product_id=product_id, quantity=stock), metadata=_wire(self.admin)
            )
        return product_id

    async def customer(self) -> str:
        customer_id = unique("c")
        await self.customers.CreateCustomer(
            customer_pb2.CreateCustomerRequest(
                customer=customer_pb2.Customer(
                    customer_id=customer_id, name="Ada Lovelace", email=f"{customer_id}@example.com"
                )
            ),
            metadata=_wire(self.admin),
        )
        return customer_id

    async def place(
        self,
        customer_id: str,
        lines: Sequence[tuple[str, int]],
        *,
        metadata: Metadata | None = None,
        payment_method: str = "",
    ) -> order_pb2.Order:
        request = order_pb2.PlaceOrderRequest(
            customer_id=customer_id,
            items=[order_pb2.OrderLine(product_id=p, quantity=q) for p, q in lines],
            payment_method=payment_method,
        )
        response = await self.orders.PlaceOrder(request, metadata=_wire(metadata or self.admin), timeout=30)
        return response.order

    async def order(self, order_id: str) -> order_pb2.Order:
        return (
            await self.orders.GetOrder(order_pb2.GetOrderRequest(order_id=order_id), metadata=_wire(self.admin))
        ).order

    async def settled(self, order_id: str, *, timeout_s: float = 30.0) -> order_pb2.Order:
        """The order once it left PENDING."""
        return await eventually(
            lambda: self.order(order_id),
            until=lambda o: o.status != order_pb2.ORDER_STATUS_PENDING,
            timeout_s=timeout_s,
            what=f"order {order_id} to leave PENDING",
        )

    async def stock(self, product_id: str) -> inventory_pb2.Stock:
        reply = await self.inventory.GetStock(
            inventory_pb2.GetStockRequest(product_id=product_id), metadata=_wire(self.admin)
        )
        return reply.stock
