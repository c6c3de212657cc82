"""Order events (protobuf envelopes) to reservation commands, on fakes; what is counted."""

from __future__ import annotations

import uuid

from google.protobuf.message import Message

from inventory_svc.domain.events import InventoryReleased, InventoryReserved
from inventory_svc.domain.model import Line, Money, Product, ReservationStatus, StockLevel
from inventory_svc.entrypoints.event_handlers import OrderEventHandlers, consumer_spec
from mesh.messaging.events import EventEnvelope
from mesh.messaging.kafka import Topics
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2
from tests.unit.inventory.fakes import Fakes


def _fakes(**stock: int) -> Fakes:
    fakes = Fakes()
    for product_id, quantity in stock.items():
        fakes.store.products[product_id] = Product(product_id, product_id.title(), "", Money("EUR", 100), True)
        fakes.store.stock[product_id] = StockLevel(product_id, quantity, 0, 1)
    return fakes


def _envelope(message: Message, event_id: str | None = None) -> EventEnvelope:
    return EventEnvelope(
        event_id=event_id or str(uuid.uuid4()),
        event_type=message.DESCRIPTOR.full_name,
        source="tests",
        key="o1",
        message=message,
        topic="orders",
        partition=0,
        offset=0,
        headers={},
    )


def _order(*lines: tuple[str, int]) -> order_pb2.Order:
    return order_pb2.Order(order_id="o1", items=[order_pb2.OrderItem(product_id=p, quantity=q) for p, q in lines])


async def test_order_placed_reserves_its_items_and_counts_the_outcome() -> None:
    fakes = _fakes(apple=5, pear=5)
    handlers = OrderEventHandlers(fakes.deps())
    await handlers.order_placed(_envelope(order_events.OrderPlaced(order=_order(("pear", 1), ("apple", 2)))))
    assert fakes.store.published[0] == InventoryReserved("o1", (Line("apple", 2), Line("pear", 1)))
    [(outcome, seconds)] = fakes.metrics.reservations
    assert outcome == "reserved" and seconds >= 0


async def test_a_redelivered_order_placed_is_counted_unchanged() -> None:
    fakes = _fakes(apple=5)
    handlers = OrderEventHandlers(fakes.deps())
    placed = _envelope(order_events.OrderPlaced(order=_order(("apple", 2))), event_id="e1")
    await handlers.order_placed(placed)
    await handlers.order_placed(placed)
    assert [outcome for outcome, _ in fakes.metrics.reservations] == ["reserved", "unchanged"]
    assert fakes.store.stock["apple"].reserved == 2


async def test_order_cancelled_releases_with_the_orders_reason() -> None:
    fakes = _fakes(apple=5)
    handlers = OrderEventHandlers(fakes.deps())
    await handlers.order_placed(_envelope(order_events.OrderPlaced(order=_order(("apple", 2)))))
    await handlers.order_cancelled(_envelope(order_events.OrderCancelled(order=_order(), reason="payment declined")))
    released = [e for e in fakes.store.published if isinstance(e, InventoryReleased)]
    assert [e.reason for e in released] == ["payment declined"]
    assert fakes.metrics.order_events == [("OrderCancelled", "released")]


async def test_an_unwanted_reservation_is_released_naming_the_orders_status() -> None:
    fakes = _fakes(apple=5)
    handlers = OrderEventHandlers(fakes.deps())
    await handlers.order_placed(_envelope(order_events.OrderPlaced(order=_order(("apple", 2)))))
    unwanted = order_events.OrderReservationUnwanted(order_id="o1", status=order_pb2.ORDER_STATUS_CANCELLED)
    await handlers.reservation_unwanted(_envelope(unwanted))
    [released] = [e for e in fakes.store.published if isinstance(e, InventoryReleased)]
    assert released.reason == "order cancelled: reservation not wanted"
    assert fakes.store.stock["apple"].reserved == 0
    assert fakes.metrics.order_events == [("OrderReservationUnwanted", "released")]


async def test_an_unwanted_reservation_of_an_unknown_status_still_releases() -> None:
    fakes = _fakes(apple=5)
    handlers = OrderEventHandlers(fakes.deps())
    await handlers.order_placed(_envelope(order_events.OrderPlaced(order=_order(("apple", 2)))))
    unwanted = order_events.OrderReservationUnwanted(order_id="o1", status=999)  # type: ignore[arg-type]
    await handlers.reservation_unwanted(_envelope(unwanted))
    [released] = [e for e in fakes.store.published if isinstance(e, InventoryReleased)]
    assert released.reason == "order moved on: reservation not wanted"


async def test_only_a_shipment_moves_stock_among_status_changes() -> None:
    fakes = _fakes(apple=5)
    handlers = OrderEventHandlers(fakes.deps())
    await handlers.order_placed(_envelope(order_events.OrderPlaced(order=_order(("apple", 2)))))
    paid = order_events.OrderStatusChanged(order=_order(), new_status=order_pb2.ORDER_STATUS_PAID)
    await handlers.order_status_changed(_envelope(paid))
    assert fakes.store.stock["apple"] == StockLevel("apple", 5, 2, 2)
    shipped = order_events.OrderStatusChanged(order=_order(), new_status=order_pb2.ORDER_STATUS_SHIPPED)
    await handlers.order_status_changed(_envelope(shipped))
    assert (fakes.store.stock["apple"].quantity, fakes.store.stock["apple"].reserved) == (3, 0)
    assert fakes.store.reservations["o1"].status is ReservationStatus.SHIPPED
    assert fakes.metrics.order_events == [("OrderStatusChanged", "unchanged"), ("OrderStatusChanged", "shipped")]


def test_the_consumer_reads_the_orders_topic_with_every_handler() -> None:
    spec = consumer_spec(Topics("run7."), "inventory-svc-x", Fakes().deps())
    assert (spec.group_id, spec.topics) == ("inventory-svc-x", ["run7.orders"])
    assert set(spec.handlers) == {
        order_events.OrderPlaced,
        order_events.OrderCancelled,
        order_events.OrderStatusChanged,
        order_events.OrderReservationUnwanted,
    }
