"""Helpers of the inventory integration tests: products, order events, reading the outbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from google.protobuf.message import Message
from google.type import money_pb2
from prometheus_client import REGISTRY

from inventory_svc import bootstrap
from inventory_svc.bootstrap import CONSUMER_GROUP, SERVICE, Connections
from inventory_svc.domain.model import StockLevel
from inventory_svc.entrypoints import workers
from inventory_svc.entrypoints.event_handlers import OrderEventHandlers
from inventory_svc.service_layer import catalog, stock
from inventory_svc.service_layer.ports import Dependencies
from inventory_svc.settings import Config
from mesh.messaging.events import EventEnvelope
from mesh.messaging.outbox import OUTBOX
from mesh.serving.server import ServiceProcess, Worker
from oms.inventory.v1 import events_pb2 as inventory_events
from oms.inventory.v1 import inventory_pb2 as pb
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2


@dataclass
class InventoryApp:
    """The composed service as a test drives it: the connections bootstrap builds the process on,
    dependencies on them (the same ports the process's handlers get), the process itself, and
    its workers one by one. The test closes the connections (``close``), not the process."""

    config: Config
    connections: Connections
    deps: Dependencies

    @classmethod
    def build(cls, config: Config) -> InventoryApp:
        connections = bootstrap.build_connections(config)
        return cls(config, connections, bootstrap.build_dependencies(config, connections=connections))

    def process(self) -> ServiceProcess:
        return bootstrap.bootstrap(self.config, connections=self.connections)

    def event_handlers(self) -> OrderEventHandlers:
        return OrderEventHandlers(self.deps)

    @cached_property
    def relay(self) -> Worker:
        return workers.outbox_relay(bootstrap.outbox_relay(self.config, self.connections), self.connections.producer)

    @cached_property
    def consumer(self) -> Worker:
        consumer = bootstrap.order_consumer(self.config, self.connections, self.deps)
        return workers.order_events(consumer, self.connections.producer)

    @property
    def consumer_group(self) -> str:
        return self.config.service.group_id(CONSUMER_GROUP)

    async def close(self) -> None:
        await self.connections.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def product_with_stock(app: InventoryApp, quantity: int, *, product_id: str | None = None) -> str:
    command = catalog.CreateProduct(product_id or unique("p"), "Test item", "", catalog.PriceInput("EUR", 3, 0))
    product = await catalog.create_product(command, app.deps)
    if quantity:
        await stock.add_stock(stock.AddStock(product.product_id, quantity), app.deps)
    return product.product_id


async def level(app: InventoryApp, product_id: str) -> StockLevel:
    async with app.deps.uow() as uow:
        found = await uow.stock.get(product_id)
    assert found is not None
    return found


def envelope(message: Message, key: str, event_id: str | None = None) -> EventEnvelope:
    return EventEnvelope(
        event_id=event_id or str(uuid.uuid4()),
        event_type=message.DESCRIPTOR.full_name,
        source="tests",
        key=key,
        message=message,
        topic="orders",
        partition=0,
        offset=0,
        headers={},
    )


def order(order_id: str, *lines: tuple[str, int]) -> order_pb2.Order:
    return order_pb2.Order(
        order_id=order_id,
        status=order_pb2.ORDER_STATUS_PENDING,
        items=[order_pb2.OrderItem(product_id=p, quantity=q) for p, q in lines],
    )


def placed(order_id: str, *lines: tuple[str, int], event_id: str | None = None) -> EventEnvelope:
    return envelope(order_events.OrderPlaced(order=order(order_id, *lines)), order_id, event_id)


def cancelled(order_id: str, reason: str = "customer asked") -> EventEnvelope:
    return envelope(order_events.OrderCancelled(order=order(order_id), reason=reason), order_id)


def status_changed(order_id: str, new_status: int) -> EventEnvelope:
    message = order_events.OrderStatusChanged(order=order(order_id), new_status=new_status)  # type: ignore[arg-type]
    return envelope(message, order_id)


_TYPES: dict[str, type[Any]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        inventory_events.InventoryReserved,
        inventory_events.StockReservationFailed,
        inventory_events.InventoryReleased,
        inventory_events.StockLevelChanged,
    )
}


async def outbox(app: InventoryApp, event_type: type[Message] | None = None) -> list[tuple[str, Any]]:
    """(key, decoded message) of every event written, oldest first, optionally of one type."""
    async with app.connections.sessions() as session:
        query = sa.select(OUTBOX.c.message_key, OUTBOX.c.event_type, OUTBOX.c.payload).order_by(OUTBOX.c.id)
        rows = (await session.execute(query)).all()
    found = [(key, _TYPES[kind].FromString(payload)) for key, kind, payload in rows]
    if event_type is None:
        return found
    return [(key, message) for key, message in found if isinstance(message, event_type)]


def cache_hits() -> float:
    return REGISTRY.get_sample_value("oms_cache_hits_total", {"service": SERVICE}) or 0.0


def eur(units: int, nanos: int = 0) -> money_pb2.Money:
    return money_pb2.Money(currency_code="EUR", units=units, nanos=nanos)


def new_product(product_id: str = "", name: str = "Widget") -> pb.CreateProductRequest:
    return pb.CreateProductRequest(product=pb.Product(product_id=product_id, name=name, price=eur(4, 500000000)))
