"""Order events from Kafka to reservation use cases."""

from __future__ import annotations

import time
from collections.abc import Mapping

from google.protobuf.message import Message

from inventory_svc import metrics
from inventory_svc.adapters.catalog_cache import CatalogCache
from inventory_svc.domain.model import Line
from inventory_svc.service_layer import reservations
from inventory_svc.service_layer.unit_of_work import UnitOfWorkFactory
from mesh.messaging.events import EventEnvelope
from mesh.messaging.kafka import EventHandler
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2


class OrderEventHandlers:
    def __init__(self, uow_factory: UnitOfWorkFactory, cache: CatalogCache) -> None:
        self._uow = uow_factory
        self._cache = cache

    def handlers(self) -> Mapping[type[Message], EventHandler]:
        return {
            order_events.OrderPlaced: self.order_placed,
            order_events.OrderCancelled: self.order_cancelled,
            order_events.OrderStatusChanged: self.order_status_changed,
            order_events.OrderReservationUnwanted: self.reservation_unwanted,
        }

    async def order_placed(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, order_events.OrderPlaced)
        command = reservations.ReserveOrder(
            event_id=envelope.event_id,
            order_id=event.order.order_id,
            lines=[Line(item.product_id, item.quantity) for item in event.order.items],
        )
        started = time.perf_counter()
        outcome = await reservations.reserve_order(command, self._uow(), self._cache)
        metrics.RESERVATION_SECONDS.observe(time.perf_counter() - started)
        metrics.RESERVATIONS.labels(outcome.value).inc()

    async def order_cancelled(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, order_events.OrderCancelled)
        outcome = await reservations.release_order(
            envelope.event_id, event.order.order_id, event.reason, self._uow(), self._cache
        )
        metrics.STOCK_EVENTS.labels("OrderCancelled", outcome.value).inc()

    async def reservation_unwanted(self, envelope: EventEnvelope) -> None:
        """The order no longer waits for its reservation (a late or replayed one): give it back."""
        event = envelope.message
        assert isinstance(event, order_events.OrderReservationUnwanted)
        known = order_pb2.OrderStatus.DESCRIPTOR.values_by_number.get(event.status)
        status = known.name.removeprefix("ORDER_STATUS_").lower() if known else "moved on"
        outcome = await reservations.release_order(
            envelope.event_id, event.order_id, f"order {status}: reservation not wanted", self._uow(), self._cache
        )
        metrics.STOCK_EVENTS.labels("OrderReservationUnwanted", outcome.value).inc()

    async def order_status_changed(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, order_events.OrderStatusChanged)
        if event.new_status != order_pb2.ORDER_STATUS_SHIPPED:
            # Only shipping moves stock; payment failures arrive as OrderCancelled.
            metrics.STOCK_EVENTS.labels("OrderStatusChanged", reservations.Outcome.UNCHANGED.value).inc()
            return
        outcome = await reservations.ship_order(envelope.event_id, event.order.order_id, self._uow(), self._cache)
        metrics.STOCK_EVENTS.labels("OrderStatusChanged", outcome.value).inc()
