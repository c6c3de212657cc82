"""The order service's event handlers on a real database: redelivery is a no-op."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from mesh.messaging.events import EventEnvelope
from oms.inventory.v1 import events_pb2 as inventory_events
from order_svc.adapters.repository import Customer
from order_svc.domain.placement import RequestedLine
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.lifecycle import get_order
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Caller, OrderDeps
from order_svc.service_layer.saga import ReservationOutcome, apply_reservation_outcome

pytestmark = pytest.mark.integration
ADMIN = Caller("admin-1", is_admin=True)


def envelope(event_id: str, message: object) -> EventEnvelope:
    return EventEnvelope(event_id, "t", "/test", "k", message, "t.inventory", 0, 0, {})  # type: ignore[arg-type]


async def outbox_types(deps: OrderDeps) -> list[str]:
    async with deps.uow() as uow:
        rows = await uow.session.execute(sa.text("SELECT event_type FROM outbox ORDER BY id"))
        return [row[0] for row in rows]


async def test_a_redelivered_outcome_changes_nothing(deps: OrderDeps) -> None:
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-1", "Ada", "ada@example.com", ""))
        await uow.commit()
    order = await place_order(PlaceOrder("c-1", [RequestedLine("p-1", 2)]), ADMIN, deps)
    reserved = envelope("evt-1", inventory_events.InventoryReserved(order_id=order.order_id))

    await apply_reservation_outcome(ReservationOutcome(order.order_id, reserved=True), reserved, deps)
    await apply_reservation_outcome(ReservationOutcome(order.order_id, reserved=True), reserved, deps)

    confirmed = await get_order(order.order_id, ADMIN, deps)
    assert confirmed.status is OrderStatus.CONFIRMED
    assert confirmed.version == 2
    assert await outbox_types(deps) == ["oms.order.v1.OrderPlaced", "oms.order.v1.OrderStatusChanged"]


async def test_an_outcome_for_an_order_that_moved_on_is_ignored(deps: OrderDeps) -> None:
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-2", "Bob", "bob@example.com", ""))
        await uow.commit()
    order = await place_order(PlaceOrder("c-2", [RequestedLine("p-1", 1)]), ADMIN, deps)
    from order_svc.service_layer.lifecycle import cancel_order

    await cancel_order(order.order_id, "", ADMIN, deps)
    late = envelope("evt-2", inventory_events.InventoryReserved(order_id=order.order_id))
    await apply_reservation_outcome(ReservationOutcome(order.order_id, reserved=True), late, deps)
    assert (await get_order(order.order_id, ADMIN, deps)).status is OrderStatus.CANCELLED


async def test_the_order_and_its_event_are_written_together(deps: OrderDeps) -> None:
    """A placement that fails (unknown customer) leaves neither an order nor an event."""
    from mesh.serving.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        await place_order(PlaceOrder("nobody", [RequestedLine("p-1", 1)]), ADMIN, deps)
    async with deps.uow() as uow:
        count = (await uow.session.execute(sa.text("SELECT count(*) FROM orders"))).scalar_one()
    assert count == 0
    assert await outbox_types(deps) == []


async def test_a_reservation_for_a_cancelled_order_is_handed_back(deps: OrderDeps) -> None:
    from oms.order.v1 import events_pb2 as order_events
    from order_svc.service_layer.lifecycle import cancel_order

    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-3", "Cy", "cy@example.com", ""))
        await uow.commit()
    order = await place_order(PlaceOrder("c-3", [RequestedLine("p-1", 1)]), ADMIN, deps)
    await cancel_order(order.order_id, "", ADMIN, deps)
    late = envelope("evt-3", inventory_events.InventoryReserved(order_id=order.order_id))
    await apply_reservation_outcome(ReservationOutcome(order.order_id, reserved=True), late, deps)
    await apply_reservation_outcome(ReservationOutcome(order.order_id, reserved=True), late, deps)  # redelivery

    assert (await get_order(order.order_id, ADMIN, deps)).status is OrderStatus.CANCELLED
    assert await outbox_types(deps) == [
        "oms.order.v1.OrderPlaced",
        "oms.order.v1.OrderCancelled",
        "oms.order.v1.OrderReservationUnwanted",
    ]
    async with deps.uow() as uow:
        payload = (
            await uow.session.execute(
                sa.text("SELECT payload FROM outbox WHERE event_type = 'oms.order.v1.OrderReservationUnwanted'")
            )
        ).scalar_one()
    unwanted = order_events.OrderReservationUnwanted.FromString(payload)
    assert (unwanted.order_id, unwanted.reservation_event_id) == (order.order_id, "evt-3")


async def test_a_second_reservation_for_a_confirmed_order_releases_nothing(deps: OrderDeps) -> None:
    """Inventory keeps one reservation per order: a repeat is the confirmed order's own stock."""
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-4", "Di", "di@example.com", ""))
        await uow.commit()
    order = await place_order(PlaceOrder("c-4", [RequestedLine("p-1", 1)]), ADMIN, deps)
    for event_id in ("evt-4", "evt-4-replayed"):
        reserved = envelope(event_id, inventory_events.InventoryReserved(order_id=order.order_id))
        await apply_reservation_outcome(ReservationOutcome(order.order_id, reserved=True), reserved, deps)
    assert (await get_order(order.order_id, ADMIN, deps)).status is OrderStatus.CONFIRMED
    assert await outbox_types(deps) == ["oms.order.v1.OrderPlaced", "oms.order.v1.OrderStatusChanged"]
