"""Order events from Kafka to reservation use cases; builds the consumer's ConsumerSpec."""

from __future__ import annotations

import time
from collections.abc import Mapping

from google.protobuf.message import Message

from inventory_svc.adapters.topics import ORDERS
from inventory_svc.domain.model import Line
from inventory_svc.service_layer import reservations
from inventory_svc.service_layer.ports import Dependencies
from mesh.messaging.events import EventEnvelope
from mesh.messaging.kafka import ConsumerSpec, EventHandler, Topics
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2


def consumer_spec(topics: Topics, group_id: str, deps: Dependencies) -> ConsumerSpec:
    return ConsumerSpec(group_id=group_id, topics=[topics.name(ORDERS)], handlers=OrderEventHandlers(deps).handlers())


class OrderEventHandlers:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

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
        outcome = await reservations.reserve_order(command, self._deps)
        self._deps.metrics.reservation(outcome.value, time.perf_counter() - started)

    async def order_cancelled(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, order_events.OrderCancelled)
        command = reservations.ReleaseOrder(envelope.event_id, event.order.order_id, event.reason)
        outcome = await reservations.release_order(command, self._deps)
        self._deps.metrics.order_event("OrderCancelled", outcome.value)

    async def reservation_unwanted(self, envelope: EventEnvelope) -> None:
        """The order no longer waits for its reservation (a late or replayed one): give it back."""
        event = envelope.message
        assert isinstance(event, order_events.OrderReservationUnwanted)
        known = order_pb2.OrderStatus.DESCRIPTOR.values_by_number.get(event.status)
        status = known.name.removeprefix("ORDER_STATUS_").lower() if known else "moved on"
        command = reservations.ReleaseOrder(
            envelope.event_id, event.order_id, f"order {status}: reservation not wanted"
        )
        outcome = await reservations.release_order(command, self._deps)
        self._deps.metrics.order_event("OrderReservationUnwanted", outcome.value)

    async def order_status_changed(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, order_events.OrderStatusChanged)
        if event.new_status != order_pb2.ORDER_STATUS_SHIPPED:
            # Only shipping moves stock; payment failures arrive as OrderCancelled.
            self._deps.metrics.order_event("OrderStatusChanged", reservations.Outcome.UNCHANGED.value)
            return
        command = reservations.ShipOrder(envelope.event_id, event.order.order_id)
        outcome = await reservations.ship_order(command, self._deps)
        self._deps.metrics.order_event("OrderStatusChanged", outcome.value)
