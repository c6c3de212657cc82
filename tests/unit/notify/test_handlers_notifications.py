"""Recording notifications from events, admin retry and listing, against in-memory fakes."""

from __future__ import annotations

import dataclasses

import pytest

from mesh.serving.errors import FailedPrecondition, InvalidArgument, NotFound
from notify_svc.domain.model import Notification, Status
from notify_svc.service_layer.notifications import list_notifications, record_order_event, retry_notification
from notify_svc.service_layer.ports import ListQuery
from tests.unit.notify.fakes import FakeRepository, Harness, placed, status_changed


async def test_an_event_records_one_pending_notification_and_wakes_the_dispatcher() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)

    assert (n.status, n.recipient, n.order_id, n.event_id) == (Status.PENDING, "ada@example.com", "ord-1", "ev-1")
    assert n.message.subject == "We received your order ord-1"
    assert list(h.repo.rows) == [n.notification_id]
    assert h.wakes == 1


async def test_the_same_event_twice_records_one_notification() -> None:
    h = Harness()
    await record_order_event(placed("ev-1"), h.deps)
    assert await record_order_event(placed("ev-1"), h.deps) == []
    assert len(h.repo.rows) == 1


async def test_an_invalid_email_fails_the_notification_at_once() -> None:
    h = Harness()
    [n] = await record_order_event(placed(email="not-an-address"), h.deps)

    assert n.status is Status.FAILED
    assert "invalid email address" in n.last_error
    assert h.wakes == 0
    assert h.metrics.counts == {("failed", "email"): 1}


async def test_an_event_without_a_customer_fails_the_notification_at_once() -> None:
    h = Harness()
    [n] = await record_order_event(dataclasses.replace(placed(), customer=None), h.deps)

    assert (n.status, n.customer_id) == (Status.FAILED, "")
    assert n.last_error.startswith("unknown customer")


async def test_retry_of_a_failed_notification_makes_it_pending_and_wakes_the_dispatcher() -> None:
    h = Harness()
    [n] = await record_order_event(placed(email="bad"), h.deps)
    h.clock.advance(60)

    retried = await retry_notification(n.notification_id, h.deps)

    assert (retried.status, retried.attempts, retried.next_attempt_at) == (Status.PENDING, 0, h.clock.now)
    assert h.repo.rows[n.notification_id].status is Status.PENDING
    assert h.wakes == 1


async def test_retry_of_a_notification_that_did_not_fail_names_its_status() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)
    with pytest.raises(FailedPrecondition, match="is PENDING") as caught:
        await retry_notification(n.notification_id, h.deps)
    assert caught.value.metadata["status"] == "PENDING"


async def test_retry_of_an_unknown_notification_is_not_found() -> None:
    with pytest.raises(NotFound):
        await retry_notification("00000000-0000-4000-8000-999999999999", Harness().deps)


@pytest.mark.parametrize("bad_id", ["", "not-a-uuid"])
async def test_retry_with_a_malformed_id_is_invalid(bad_id: str) -> None:
    with pytest.raises(InvalidArgument):
        await retry_notification(bad_id, Harness().deps)


async def test_listing_pages_newest_first_and_filters() -> None:
    h = Harness()
    for i in range(5):
        h.clock.advance(1)
        await record_order_event(placed(f"ev-a{i}", order_id="ord-a"), h.deps)
    await record_order_event(status_changed("ev-b"), h.deps)

    first = await list_notifications(ListQuery(limit=2, order_id="ord-a"), h.deps)
    second = await list_notifications(ListQuery(limit=2, order_id="ord-a", after=first.next), h.deps)
    third = await list_notifications(ListQuery(limit=2, order_id="ord-a", after=second.next), h.deps)

    seen = [n.event_id for page in (first, second, third) for n in page.notifications]
    assert seen == ["ev-a4", "ev-a3", "ev-a2", "ev-a1", "ev-a0"]
    assert third.next is None
    failed = await list_notifications(ListQuery(limit=10, status=Status.FAILED), h.deps)
    assert failed.notifications == []


async def test_a_redelivered_event_is_claimed_once_and_changes_nothing() -> None:
    h = Harness()
    await record_order_event(placed("ev-1"), h.deps)
    before = {nid: (n.status, n.attempts) for nid, n in h.repo.rows.items()}

    assert await record_order_event(placed("ev-1"), h.deps) == []

    assert h.inbox == {"ev-1"}
    assert {nid: (n.status, n.attempts) for nid, n in h.repo.rows.items()} == before
    assert h.wakes == 1  # only the first delivery made due work
    # The redelivery opened a unit of work but had nothing to commit.
    assert [unit.committed for unit in h.units] == [True, False]


class _BrokenRepository(FakeRepository):
    async def add(self, notification: Notification) -> bool:
        raise RuntimeError("database went away")


async def test_an_event_whose_unit_of_work_fails_is_not_claimed_so_its_redelivery_is_handled() -> None:
    h = Harness()
    healthy, h.repo = h.repo, _BrokenRepository()
    with pytest.raises(RuntimeError):
        await record_order_event(placed("ev-1"), h.deps)
    assert h.inbox == set()

    h.repo = healthy
    [n] = await record_order_event(placed("ev-1"), h.deps)
    assert n.status is Status.PENDING
    assert h.inbox == {"ev-1"}


async def test_a_customers_listing_holds_only_their_own_notifications() -> None:
    h = Harness()
    await record_order_event(placed("ev-ada", order_id="ord-ada", customer_id="cust-ada"), h.deps)
    await record_order_event(placed("ev-bob", order_id="ord-bob", customer_id="cust-bob"), h.deps)

    page = await list_notifications(ListQuery(limit=10, customer_id="cust-ada"), h.deps)
    everyone = await list_notifications(ListQuery(limit=10), h.deps)

    assert [(n.event_id, n.customer_id) for n in page.notifications] == [("ev-ada", "cust-ada")]
    assert page.next is None
    assert sorted(n.customer_id for n in everyone.notifications) == ["cust-ada", "cust-bob"]


async def test_a_customer_filter_combines_with_the_order_filter() -> None:
    h = Harness()
    await record_order_event(placed("ev-ada", order_id="ord-shared", customer_id="cust-ada"), h.deps)
    await record_order_event(placed("ev-bob", order_id="ord-shared", customer_id="cust-bob"), h.deps)

    page = await list_notifications(ListQuery(limit=10, order_id="ord-shared", customer_id="cust-bob"), h.deps)

    assert [n.event_id for n in page.notifications] == ["ev-bob"]
