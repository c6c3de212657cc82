"""Orders stuck in PENDING: the oldest one's age is a metric, each overdue one an incident, once."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from oms.inventory.v1 import events_pb2 as inventory_events
from order_svc.adapters.metrics import OLDEST_PENDING_AGE
from order_svc.adapters.repository import Customer
from order_svc.domain.placement import RequestedLine
from order_svc.service_layer.pending import PendingWatch
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Caller, OrderDeps
from order_svc.service_layer.saga import ReservationOutcome, apply_reservation_outcome
from tests.integration.order.test_saga_handlers import envelope

pytestmark = pytest.mark.integration
ADMIN = Caller("admin-1", is_admin=True)


async def test_an_overdue_pending_order_is_one_incident_and_its_age_a_metric(
    deps: OrderDeps, caplog: pytest.LogCaptureFixture
) -> None:
    async with deps.uow() as uow:
        await uow.customers.add(Customer("c-p", "Pat", "pat@example.com", ""))
        await uow.commit()
    first = await place_order(PlaceOrder("c-p", [RequestedLine("p-1", 1)]), ADMIN, deps)
    second = await place_order(PlaceOrder("c-p", [RequestedLine("p-1", 1)]), ADMIN, deps)
    assert first.created_at is not None
    watch = PendingWatch(deps, incident_after_s=30)

    assert await watch.check(first.created_at + timedelta(seconds=10)) == []
    assert OLDEST_PENDING_AGE._value.get() == pytest.approx(10, abs=1)

    with caplog.at_level(logging.ERROR, logger="order_svc.service_layer.pending"):
        later = first.created_at + timedelta(seconds=60)
        assert sorted(await watch.check(later)) == sorted([first.order_id, second.order_id])
        assert await watch.check(later + timedelta(seconds=5)) == []  # once per order, not every tick
    incidents = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert sorted(r.__dict__["order_id"] for r in incidents) == sorted([first.order_id, second.order_id])
    assert all(r.__dict__["pending_s"] >= 60 for r in incidents)

    for order in (first, second):
        reserved = envelope(f"evt-{order.order_id}", inventory_events.InventoryReserved(order_id=order.order_id))
        await apply_reservation_outcome(ReservationOutcome(order.order_id, reserved=True), reserved, deps)
    assert await watch.check(later + timedelta(seconds=10)) == []
    assert OLDEST_PENDING_AGE._value.get() == 0
