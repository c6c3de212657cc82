"""Order and inventory events from Kafka to payment use cases; builds the consumer's ConsumerSpec."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from google.protobuf.message import Message

from mesh.messaging.events import EventEnvelope
from mesh.messaging.kafka import ConsumerSpec, EventHandler, Topics
from mesh.serving.wire import minor_units
from oms.inventory.v1 import events_pb2 as inventory_events
from oms.order.v1 import events_pb2 as order_events
from oms.order.v1 import order_pb2
from payment_svc.adapters.topics import INVENTORY, ORDERS
from payment_svc.service_layer import payments
from payment_svc.service_layer.ports import Dependencies

log = logging.getLogger(__name__)


def consumer_spec(topics: Topics, group_id: str, deps: Dependencies) -> ConsumerSpec:
    return ConsumerSpec(
        group_id=group_id,
        topics=[topics.name(ORDERS), topics.name(INVENTORY)],
        handlers=PaymentEventHandlers(deps).handlers(),
    )


class PaymentEventHandlers:
    def __init__(self, deps: Dependencies) -> None:
        self._deps = deps

    def handlers(self) -> Mapping[type[Message], EventHandler]:
        return {
            order_events.OrderPlaced: self.order_placed,
            order_events.OrderCancelled: self.order_cancelled,
            order_events.OrderStatusChanged: self.order_status_changed,
            inventory_events.InventoryReserved: self.inventory_reserved,
        }

    async def order_placed(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, order_events.OrderPlaced)
        order = event.order
        try:
            total = minor_units(order.total)
            lines = [minor_units(item.line_total) for item in order.items]
        except ValueError as exc:
            # Sub-cent amounts: the order cannot be charged as stated; its payment fails.
            log.warning("order with an unchargeable amount", extra={"order_id": order.order_id, "error": str(exc)})
            total, lines = -1, []
        command = payments.OrderPlaced(
            event_id=envelope.event_id,
            order_id=order.order_id,
            customer_id=order.customer_id,
            total_minor=total,
            currency=order.total.currency_code,
            line_totals_minor=lines,
            payment_method=event.payment_method,
        )
        self._deps.metrics.payment_event("OrderPlaced", await payments.order_placed(command, self._deps))

    async def inventory_reserved(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, inventory_events.InventoryReserved)
        command = payments.InventoryReserved(envelope.event_id, event.order_id)
        self._deps.metrics.payment_event("InventoryReserved", await payments.inventory_reserved(command, self._deps))

    async def order_cancelled(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, order_events.OrderCancelled)
        command = payments.OrderCancelled(envelope.event_id, event.order.order_id, event.reason)
        self._deps.metrics.payment_event("OrderCancelled", await payments.order_cancelled(command, self._deps))

    async def order_status_changed(self, envelope: EventEnvelope) -> None:
        event = envelope.message
        assert isinstance(event, order_events.OrderStatusChanged)
        if event.new_status == order_pb2.ORDER_STATUS_SHIPPED:
            shipped = payments.OrderShipped(envelope.event_id, event.order.order_id)
            outcome = await payments.order_shipped(shipped, self._deps)
        elif event.new_status == order_pb2.ORDER_STATUS_REJECTED:
            # Never reserved, so never authorized: the payment ends CANCELLED instead of waiting.
            rejected = payments.OrderCancelled(envelope.event_id, event.order.order_id, f"rejected: {event.reason}")
            outcome = await payments.order_cancelled(rejected, self._deps)
        else:
            outcome = "ignored"
        self._deps.metrics.payment_event("OrderStatusChanged", outcome)
