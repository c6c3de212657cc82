"""The Notification aggregate and its state machine: PENDING -> SENT | FAILED, FAILED -> PENDING.

A delivery attempt is "begun" (attempts + 1, the row leased until ``lease_until``) before the
channel is called, so a process that dies mid-send leaves a row that becomes due again when
the lease runs out, and a message that crashes the sender cannot be tried forever.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from notify_svc.domain.retry_policy import RetryPolicy


class Status(enum.Enum):
    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"


class InvalidTransition(Exception):
    """The notification is not in a status that allows the change."""

    def __init__(self, notification_id: str, current: Status, wanted: str) -> None:
        super().__init__(f"notification {notification_id} is {current.value}; cannot {wanted}")
        self.notification_id = notification_id
        self.current = current
        self.wanted = wanted


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body_text: str
    body_html: str = ""


@dataclass
class Notification:
    notification_id: str
    event_id: str
    event_type: str
    order_id: str
    customer_id: str
    channel: str
    recipient: str
    message: RenderedMessage
    status: Status
    attempts: int
    last_error: str
    next_attempt_at: datetime
    create_time: datetime
    update_time: datetime
    sent_time: datetime | None = None
    # The W3C trace context (traceparent, tracestate) of the event handling that recorded it,
    # so its delivery, later and in another task, is a span of the same trace. Opaque here.
    trace_context: dict[str, str] = field(default_factory=dict)

    @classmethod
    def pending(
        cls,
        *,
        notification_id: str,
        event_id: str,
        event_type: str,
        order_id: str,
        customer_id: str,
        channel: str,
        recipient: str,
        message: RenderedMessage,
        now: datetime,
    ) -> Notification:
        return cls(
            notification_id=notification_id,
            event_id=event_id,
            event_type=event_type,
            order_id=order_id,
            customer_id=customer_id,
            channel=channel,
            recipient=recipient,
            message=message,
            status=Status.PENDING,
            attempts=0,
            last_error="",
            next_attempt_at=now,
            create_time=now,
            update_time=now,
        )

    def is_due(self, now: datetime) -> bool:
        return self.status is Status.PENDING and self.next_attempt_at <= now

    def begin_attempt(self, now: datetime, lease: timedelta) -> None:
        if not self.is_due(now):
            raise InvalidTransition(self.notification_id, self.status, "begin a delivery attempt")
        self.attempts += 1
        self.next_attempt_at = now + lease
        self.update_time = now

    def mark_sent(self, now: datetime) -> None:
        self._require(Status.PENDING, "mark it sent")
        self.status = Status.SENT
        self.sent_time = now
        self.update_time = now

    def fail(self, reason: str, now: datetime) -> None:
        """Gives up at once: the cause will not go away by itself (bad address, 5xx refusal)."""
        self._require(Status.PENDING, "fail it")
        self.status = Status.FAILED
        self.last_error = _bounded_error(reason)
        self.update_time = now

    def attempt_failed(self, error: str, *, retriable: bool, now: datetime, policy: RetryPolicy) -> bool:
        """Records a failed attempt; True when another attempt is scheduled, False when FAILED."""
        self._require(Status.PENDING, "record a failed attempt")
        if not retriable or policy.gives_up_after(self.attempts):
            self.fail(error, now)
            return False
        self.last_error = _bounded_error(error)
        self.next_attempt_at = now + policy.delay_after(self.attempts)
        self.update_time = now
        return True

    def retry(self, now: datetime) -> None:
        """Admin retry of a FAILED notification: a fresh budget of attempts, due now."""
        self._require(Status.FAILED, "retry it (only FAILED notifications can be retried)")
        self.status = Status.PENDING
        self.attempts = 0
        self.next_attempt_at = now
        self.update_time = now

    def _require(self, status: Status, wanted: str) -> None:
        if self.status is not status:
            raise InvalidTransition(self.notification_id, self.status, wanted)


# A mail server's error text is the outside world's: kept to this many characters, so a listing
# of notifications stays within the size the gateway expects (gateway/response_bounds.py).
MAX_LAST_ERROR = 1000


def _bounded_error(text: str) -> str:
    return text if len(text) <= MAX_LAST_ERROR else text[: MAX_LAST_ERROR - 1] + "…"
