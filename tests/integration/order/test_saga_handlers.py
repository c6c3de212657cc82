"""The order service's event handlers on a real database: redelivery is a no-op."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from order_svc.adapters.unit_of_work import SqlUnitOfWork
from order_svc.domain.customer import Customer
from order_svc.domain.placement import RequestedLine
from order_svc.domain.status import OrderStatus
from order_svc.service_layer.lifecycle import get_order
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Caller, Dependencies
from order_svc.service_layer.saga import ReservationOutcome, apply_reservation_outcome

pytestmark = pytest.mark.integration
ADMIN = Caller("admin-1", is_admin=True)


def sql_uow(deps: Dependencies) -> SqlUnitOfWork:
    """The real unit of work, whose session these tests read the tables with."""
    uow = deps.uow()
    assert isinstance(uow, SqlUnitOfWork)
    return uow


async def outbox_types(deps: Dependencies) -> list[str]:
    async with sql_uow(deps) as uow:
        rows = await uow.session.execute(sa.text("SELECT event_type FROM outbox ORDER BY id"))
        return [row[0] for row in rows]


async def test_a_redelivered_outcome_changes_nothing(deps: Dependencies) -> None:
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-1", "Ada", "ada@example.com", ""))
        await uow.commit()
    order = await place_order(PlaceOrder("c-1", [RequestedLine("p-1", 2)]), ADMIN, deps)
    reserved = ReservationOutcome("evt-1", order.order_id, reserved=True)

    await apply_reservation_outcome(reserved, deps)
    await apply_reservation_outcome(reserved, deps)

    confirmed = await get_order(order.order_id, ADMIN, deps)
    assert confirmed.status is OrderStatus.CONFIRMED
    assert confirmed.version == 2
    assert await outbox_types(deps) == ["oms.order.v1.OrderPlaced", "oms.order.v1.OrderStatusChanged"]


async def test_an_outcome_for_an_order_that_moved_on_is_ignored(deps: Dependencies) -> None:
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-2", "Bob", "bob@example.com", ""))
        await uow.commit()
    order = await place_order(PlaceOrder("c-2", [RequestedLine("p-1", 1)]), ADMIN, deps)
    from order_svc.service_layer.lifecycle import cancel_order

    await cancel_order(order.order_id, "", ADMIN, deps)
    await apply_reservation_outcome(ReservationOutcome("evt-2", order.order_id, reserved=True), deps)
    assert (await get_order(order.order_id, ADMIN, deps)).status is OrderStatus.CANCELLED


async def test_the_order_and_its_event_are_written_together(deps: Dependencies) -> None:
    """A placement that fails (unknown customer) leaves neither an order nor an event."""
    from mesh.serving.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        await place_order(PlaceOrder("nobody", [RequestedLine("p-1", 1)]), ADMIN, deps)
    async with sql_uow(deps) as uow:
        count = (await uow.session.execute(sa.text("SELECT count(*) FROM orders"))).scalar_one()
    assert count == 0
    assert await outbox_types(deps) == []


async def test_a_reservation_for_a_cancelled_order_is_handed_back(deps: Dependencies) -> None:
    from oms.order.v1 import events_pb2 as order_events
    from order_svc.service_layer.lifecycle import cancel_order

    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-3", "Cy", "cy@example.com", ""))
        await uow.commit()
    order = await place_order(PlaceOrder("c-3", [RequestedLine("p-1", 1)]), ADMIN, deps)
    await cancel_order(order.order_id, "", ADMIN, deps)
    late = ReservationOutcome("evt-3", order.order_id, reserved=True)
    await apply_reservation_outcome(late, deps)
    await apply_reservation_outcome(late, deps)  # redelivery

    assert (await get_order(order.order_id, ADMIN, deps)).status is OrderStatus.CANCELLED
    assert await outbox_types(deps) == [
        "oms.order.v1.OrderPlaced",
        "oms.order.v1.OrderCancelled",
        "oms.order.v1.OrderReservationUnwanted",
    ]
    async with sql_uow(deps) as uow:
        payload = (
            await uow.session.execute(
                sa.text("SELECT payload FROM outbox WHERE event_type = 'oms.order.v1.OrderReservationUnwanted'")
            )
        ).scalar_one()
    unwanted = order_events.OrderReservationUnwanted.FromString(payload)
    assert (unwanted.order_id, unwanted.reservation_event_id) == (order.order_id, "evt-3")


async def test_a_second_reservation_for_a_confirmed_order_releases_nothing(deps: Dependencies) -> None:
    """Inventory keeps one reservation per order: a repeat is the confirmed order's own stock."""
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-4", "Di", "di@example.com", ""))
        await uow.commit()
    order = await place_order(PlaceOrder("c-4", [RequestedLine("p-1", 1)]), ADMIN, deps)
    for event_id in ("evt-4", "evt-4-replayed"):
        await apply_reservation_outcome(ReservationOutcome(event_id, order.order_id, reserved=True), deps)
    assert (await get_order(order.order_id, ADMIN, deps)).status is OrderStatus.CONFIRMED
    assert await outbox_types(deps) == ["oms.order.v1.OrderPlaced", "oms.order.v1.OrderStatusChanged"]
