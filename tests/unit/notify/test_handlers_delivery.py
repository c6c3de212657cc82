"""The dispatcher (service_layer/delivery.py) on fakes: sends what is due, retries, gives up, keeps others flowing."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from notify_svc.domain.model import Status
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.service_layer.delivery import DeliverySettings, Dispatcher
from notify_svc.service_layer.notifications import record_order_event
from notify_svc.service_layer.ports import DeliveryError
from tests.unit.notify.fakes import Harness, placed

POLICY = RetryPolicy(max_attempts=3, base_delay_s=10, max_delay_s=60)


def dispatcher(h: Harness, concurrency: int = 8) -> Dispatcher:
    return Dispatcher(h.deps, DeliverySettings(policy=POLICY, concurrency=concurrency, lease=timedelta(seconds=30)))


async def test_a_due_notification_is_sent_and_marked_sent() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)

    assert await dispatcher(h).dispatch_due() == 1

    stored = h.repo.rows[n.notification_id]
    assert (stored.status, stored.attempts, stored.sent_time) == (Status.SENT, 1, h.clock.now)
    assert [s.notification_id for s in h.channel.sent] == [n.notification_id]
    assert h.metrics.counts == {("sent", "email"): 1}
    assert await dispatcher(h).dispatch_due() == 0


async def test_a_temporary_failure_is_retried_after_the_backoff() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)
    h.channel.fail_next("ada@example.com", DeliveryError("421 try later", retriable=True))
    d = dispatcher(h)

    await d.dispatch_due()
    stored = h.repo.rows[n.notification_id]
    assert (stored.status, stored.attempts, stored.last_error) == (Status.PENDING, 1, "421 try later")
    assert await d.dispatch_due() == 0  # not due yet

    h.clock.advance(10)
    await d.dispatch_due()
    stored = h.repo.rows[n.notification_id]
    assert (stored.status, stored.attempts, stored.sent_time) == (Status.SENT, 2, h.clock.now)
    # The same notification (so the same Message-ID) went out once, on the second attempt.
    assert [s.notification_id for s in h.channel.sent] == [n.notification_id]
    assert h.metrics.counts == {("retried", "email"): 1, ("sent", "email"): 1}


async def test_a_permanent_failure_fails_at_once() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)
    h.channel.fail_next("ada@example.com", DeliveryError("550 no such user", retriable=False))

    await dispatcher(h).dispatch_due()

    stored = h.repo.rows[n.notification_id]
    assert (stored.status, stored.attempts, stored.last_error) == (Status.FAILED, 1, "550 no such user")
    assert h.metrics.counts == {("failed", "email"): 1}


async def test_gives_up_after_max_attempts() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)
    h.channel.fail_next("ada@example.com", DeliveryError("timeout", retriable=True), times=10)
    d = dispatcher(h)

    for _ in range(POLICY.max_attempts):
        await d.dispatch_due()
        h.clock.advance(60)

    stored = h.repo.rows[n.notification_id]
    assert (stored.status, stored.attempts) == (Status.FAILED, POLICY.max_attempts)
    assert await d.dispatch_due() == 0


async def test_other_notifications_keep_flowing_while_one_keeps_failing() -> None:
    h = Harness()
    await record_order_event(placed("ev-bad", email="bounce@example.com"), h.deps)
    for i in range(5):
        await record_order_event(placed(f"ev-{i}", order_id=f"ord-{i}"), h.deps)
    h.channel.fail_next("bounce@example.com", DeliveryError("421 busy", retriable=True), times=100)
    d = dispatcher(h, concurrency=1)

    # Six rows, one at a time: the failing one must not be claimed again before the others.
    for _ in range(6):
        assert await d.dispatch_due() == 1
    assert await d.dispatch_due() == 0

    assert sorted(n.event_id for n in h.channel.sent) == [f"ev-{i}" for i in range(5)]
    bad = next(r for r in h.repo.rows.values() if r.event_id == "ev-bad")
    assert (bad.status, bad.attempts) == (Status.PENDING, 1)


async def test_a_crash_before_the_outcome_leaves_the_row_leased_then_due_again() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)
    d = dispatcher(h)
    # Claim only, as a dispatcher that dies right after sending would leave it.
    claimed = await d._claim(8)
    assert [c.notification_id for c in claimed] == [n.notification_id]
    assert await d.dispatch_due() == 0

    h.clock.advance(30)
    assert await d.dispatch_due() == 1
    assert (h.repo.rows[n.notification_id].status, h.repo.rows[n.notification_id].attempts) == (Status.SENT, 2)


async def test_an_unexpected_channel_error_costs_a_retry_not_the_batch() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)
    await record_order_event(placed("ev-x", email="boom@example.com", order_id="ord-x"), h.deps)
    h.channel.failures["boom@example.com"] = [RuntimeError("bug")]  # type: ignore[list-item]

    await dispatcher(h).dispatch_due()

    assert h.repo.rows[n.notification_id].status is Status.SENT
    boom = next(r for r in h.repo.rows.values() if r.event_id == "ev-x")
    assert (boom.status, boom.last_error) == (Status.PENDING, "unexpected RuntimeError: bug")


async def test_a_row_whose_channel_is_not_configured_waits_for_a_retry() -> None:
    h = Harness()
    [n] = await record_order_event(placed(), h.deps)
    h.deps = dataclasses.replace(h.deps, channels={})

    await dispatcher(h).dispatch_due()

    stored = h.repo.rows[n.notification_id]
    assert (stored.status, stored.attempts) == (Status.PENDING, 1)
    assert stored.last_error == "no 'email' channel is configured"
    assert h.metrics.counts == {("retried", "email"): 1}
