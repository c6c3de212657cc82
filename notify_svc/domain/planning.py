"""Which notifications an event causes: one per channel, failed at once when it cannot work.

Email gets the full message (domain/templates.py), SMS a one-line text (domain/sms_templates.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from notify_svc.domain.model import Notification
from notify_svc.domain.orders import OrderEvent
from notify_svc.domain.sms_templates import render_sms
from notify_svc.domain.templates import render

# The channel whose messages are short texts; every other channel gets the full message.
SMS_CHANNEL = "sms"


@dataclass(frozen=True)
class Recipient:
    """Where a channel would deliver, or why it cannot (``problem``)."""

    address: str
    problem: str | None = None


def unknown_customer_problem(event: OrderEvent) -> str | None:
    if event.customer is None or not event.customer.customer_id:
        return "unknown customer: the event carries no customer contact"
    return None


def plan_notification(
    event: OrderEvent, *, channel: str, recipient: Recipient, notification_id: str, now: datetime
) -> Notification:
    """The notification ``event`` causes on ``channel``: PENDING, or FAILED with the reason.

    A notification that can never be delivered is still recorded (FAILED), so the log shows
    that the customer was not told and why; it is not a crash and not a retry loop.
    """
    notification = Notification.pending(
        notification_id=notification_id,
        event_id=event.event_id,
        event_type=event.event_type,
        order_id=event.order.order_id,
        customer_id=event.customer.customer_id if event.customer else "",
        channel=channel,
        recipient=recipient.address,
        message=render_sms(event) if channel == SMS_CHANNEL else render(event),
        now=now,
    )
    problem = unknown_customer_problem(event) or recipient.problem
    if problem is not None:
        notification.fail(problem, now)
    return notification
