"""The notification state machine: PENDING -> SENT | FAILED, FAILED -> PENDING (admin retry)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from notify_svc.domain.model import InvalidTransition, Notification, RenderedMessage, Status
from notify_svc.domain.retry_policy import RetryPolicy
from tests.unit.notify.fakes import T0

LEASE = timedelta(seconds=60)
POLICY = RetryPolicy(max_attempts=3, base_delay_s=10, max_delay_s=100)


def pending() -> Notification:
    return Notification.pending(
        notification_id="n-1",
        event_id="ev-1",
        event_type="oms.order.v1.OrderPlaced",
        order_id="ord-1",
        customer_id="cust-1",
        channel="email",
        recipient="ada@example.com",
        message=RenderedMessage("s", "b"),
        now=T0,
    )


def test_a_new_notification_is_pending_and_due_at_once() -> None:
    n = pending()
    assert (n.status, n.attempts, n.is_due(T0)) == (Status.PENDING, 0, True)


def test_beginning_an_attempt_counts_it_and_leases_the_row() -> None:
    n = pending()
    n.begin_attempt(T0, LEASE)
    assert n.attempts == 1
    assert n.next_attempt_at == T0 + LEASE
    assert not n.is_due(T0 + LEASE - timedelta(seconds=1))
    assert n.is_due(T0 + LEASE)


def test_a_pending_notification_that_is_not_due_cannot_begin_an_attempt() -> None:
    n = pending()
    n.begin_attempt(T0, LEASE)
    with pytest.raises(InvalidTransition):
        n.begin_attempt(T0, LEASE)


def test_sent_records_the_time_and_is_final() -> None:
    n = pending()
    n.begin_attempt(T0, LEASE)
    n.mark_sent(T0 + timedelta(seconds=1))
    assert (n.status, n.sent_time) == (Status.SENT, T0 + timedelta(seconds=1))
    changes: list[Callable[[], None]] = [lambda: n.mark_sent(T0), lambda: n.fail("x", T0), lambda: n.retry(T0)]
    for change in changes:
        with pytest.raises(InvalidTransition, match="is SENT"):
            change()


def test_a_retriable_failure_schedules_the_next_attempt_with_backoff() -> None:
    n = pending()
    n.begin_attempt(T0, LEASE)
    assert n.attempt_failed("421 busy", retriable=True, now=T0, policy=POLICY) is True
    assert (n.status, n.last_error, n.next_attempt_at) == (Status.PENDING, "421 busy", T0 + timedelta(seconds=10))


def test_a_permanent_failure_fails_at_once() -> None:
    n = pending()
    n.begin_attempt(T0, LEASE)
    assert n.attempt_failed("550 no such user", retriable=False, now=T0, policy=POLICY) is False
    assert (n.status, n.last_error) == (Status.FAILED, "550 no such user")


def test_the_last_allowed_attempt_failing_gives_up() -> None:
    n = pending()
    now = T0
    for attempt in range(1, POLICY.max_attempts + 1):
        n.begin_attempt(now, LEASE)
        again = n.attempt_failed(f"timeout {attempt}", retriable=True, now=now, policy=POLICY)
        assert again is (attempt < POLICY.max_attempts)
        now = n.next_attempt_at
    assert (n.status, n.attempts, n.last_error) == (Status.FAILED, 3, "timeout 3")


def test_retry_puts_a_failed_notification_back_with_a_fresh_budget() -> None:
    n = pending()
    n.begin_attempt(T0, LEASE)
    n.attempt_failed("550", retriable=False, now=T0, policy=POLICY)
    later = T0 + timedelta(hours=1)
    n.retry(later)
    assert (n.status, n.attempts, n.next_attempt_at) == (Status.PENDING, 0, later)
    assert n.is_due(later)


def test_only_failed_notifications_can_be_retried() -> None:
    with pytest.raises(InvalidTransition, match="is PENDING"):
        pending().retry(T0)


def test_a_failed_notification_cannot_be_sent_or_failed_again() -> None:
    n = pending()
    n.fail("unknown customer", T0)
    with pytest.raises(InvalidTransition):
        n.mark_sent(T0)
    with pytest.raises(InvalidTransition):
        n.attempt_failed("x", retriable=True, now=T0, policy=POLICY)
