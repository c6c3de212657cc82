"""Domain values to and from protobuf (API messages, also the cache's storage format)."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from google.type import money_pb2

from inventory_svc.domain.model import Money, Product, StockLevel
from mesh.serving.wire import optional_timestamp
from oms.inventory.v1 import inventory_pb2


def money_to_pb(money: Money) -> money_pb2.Money:
    return money_pb2.Money(currency_code=money.currency, units=money.units, nanos=money.nanos)


def _datetime(stamp: timestamp_pb2.Timestamp, present: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if present else None


def product_to_pb(product: Product) -> inventory_pb2.Product:
    return inventory_pb2.Product(
        product_id=product.product_id,
        name=product.name,
        description=product.description,
        price=money_to_pb(product.price),
        active=product.active,
        available_quantity=product.available,
        create_time=optional_timestamp(product.created_at),
        update_time=optional_timestamp(product.updated_at),
    )


def product_from_pb(message: inventory_pb2.Product) -> Product:
    price = message.price
    return Product(
        product_id=message.product_id,
        name=message.name,
        description=message.description,
        price=Money(price.currency_code, price.units * 100 + price.nanos // 10_000_000),
        active=message.active,
        available=message.available_quantity,
        created_at=_datetime(message.create_time, message.HasField("create_time")),
        updated_at=_datetime(message.update_time, message.HasField("update_time")),
    )


def stock_to_pb(level: StockLevel) -> inventory_pb2.Stock:
    return inventory_pb2.Stock(
        product_id=level.product_id,
        quantity=level.quantity,
        reserved=level.reserved,
        available=level.available,
        version=level.version,
        update_time=optional_timestamp(level.updated_at),
    )


def stock_from_pb(message: inventory_pb2.Stock) -> StockLevel:
    return StockLevel(
        product_id=message.product_id,
        quantity=message.quantity,
        reserved=message.reserved,
        version=message.version,
        updated_at=_datetime(message.update_time, message.HasField("update_time")),
    )
