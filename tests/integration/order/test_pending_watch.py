"""Orders stuck in PENDING: the oldest one's age is a metric, each overdue one an incident, once."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from order_svc.adapters.metrics import OLDEST_PENDING_AGE
from order_svc.domain.customer import Customer
from order_svc.domain.placement import RequestedLine
from order_svc.service_layer.pending import PendingWatch
from order_svc.service_layer.placement import PlaceOrder, place_order
from order_svc.service_layer.ports import Caller, Dependencies
from order_svc.service_layer.saga import ReservationOutcome, apply_reservation_outcome

pytestmark = pytest.mark.integration
ADMIN = Caller("admin-1", is_admin=True)


async def test_an_overdue_pending_order_is_one_incident_and_its_age_a_metric(
    deps: Dependencies, caplog: pytest.LogCaptureFixture
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
    # Each incident names its own order's age (the second was placed a moment after the first).
    ages = {order.order_id: (later - order.created_at).total_seconds() for order in (first, second) if order.created_at}
    assert {r.__dict__["order_id"]: r.__dict__["pending_s"] for r in incidents} == pytest.approx(ages, abs=0.1)

    for order in (first, second):
        await apply_reservation_outcome(
            ReservationOutcome(f"evt-{order.order_id}", order.order_id, reserved=True), deps
        )
    assert await watch.check(later + timedelta(seconds=10)) == []
    assert OLDEST_PENDING_AGE._value.get() == 0
