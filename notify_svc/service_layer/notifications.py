"""The notification use cases (record what an event causes, admin retry, listing); the ports come in through
``ports.Dependencies``. Delivering what is recorded is ``delivery``."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass

from mesh.serving.errors import FailedPrecondition, InvalidArgument, NotFound, PreconditionViolation, shown
from mesh.values.violations import FieldViolation
from notify_svc.domain.model import InvalidTransition, Notification, Status
from notify_svc.domain.orders import CustomerContact, OrderEvent
from notify_svc.domain.planning import plan_notification
from notify_svc.service_layer.ports import Cursor, Dependencies, ListQuery
from notify_svc.service_layer.webhooks import record_webhook_deliveries

# An event without a customer: every required channel records a FAILED notification saying so.
_NO_CONTACT = CustomerContact("", "", "")


@dataclass(frozen=True)
class Page:
    notifications: list[Notification]
    next: Cursor | None


async def record_order_event(
    event: OrderEvent, deps: Dependencies, cloud_event: str | None = None
) -> list[Notification]:
    """Records the notifications ``event`` causes, once per event however often it arrives, and
    in the same transaction one webhook delivery of ``cloud_event`` (the event as a CloudEvents
    JSON document, built at the edge) per active endpoint."""
    async with deps.uow() as uow:
        if not await uow.claim(event.event_id):
            return []
        now = deps.clock()
        recorded = []
        for channel in deps.channels.values():
            recipient = channel.recipient_for(event.customer or _NO_CONTACT)
            if recipient is None:
                continue  # an optional channel this customer is not on (no phone: no SMS)
            notification = plan_notification(
                event, channel=channel.name, recipient=recipient, notification_id=deps.new_id(), now=now
            )
            if await uow.notifications.add(notification):
                recorded.append(notification)
        deliveries = await record_webhook_deliveries(uow, event, cloud_event, deps) if cloud_event else 0
        if deliveries or any(n.status is Status.PENDING for n in recorded):
            uow.after_commit(deps.wake)
        await uow.commit()
    for notification in recorded:
        if notification.status is Status.FAILED:
            deps.metrics.failed(notification.channel)
    return recorded


async def retry_notification(notification_id: str, deps: Dependencies) -> Notification:
    """Admin: a FAILED notification goes back to PENDING with a fresh budget and is sent."""
    _check_id(notification_id)
    async with deps.uow() as uow:
        notification = await uow.notifications.get(notification_id, for_update=True)
        if notification is None:
            raise NotFound(
                f"notification {shown(notification_id)} not found", metadata={"notification_id": notification_id}
            )
        try:
            notification.retry(deps.clock())
        except InvalidTransition as exc:
            raise FailedPrecondition(
                str(exc),
                violations=[PreconditionViolation("STATE", f"notifications/{notification_id}", str(exc))],
                metadata={"notification_id": notification_id, "status": exc.current.value},
            ) from exc
        await uow.notifications.save([notification])
        uow.after_commit(deps.wake)
        await uow.commit()
    return notification


async def list_notifications(query: ListQuery, deps: Dependencies) -> Page:
    """One page, newest first; ``next`` is set when there may be more."""
    async with deps.uow() as uow:
        # One row more than asked tells whether another page exists without a COUNT.
        rows = await uow.notifications.list(dataclasses.replace(query, limit=query.limit + 1))
    page, more = rows[: query.limit], len(rows) > query.limit
    last = page[-1] if page else None
    return Page(page, Cursor(last.create_time, last.notification_id) if more and last else None)


def _check_id(notification_id: str) -> None:
    if not notification_id:
        raise InvalidArgument([FieldViolation("notification_id", "required")])
    try:
        uuid.UUID(notification_id)
    except ValueError:
        raise InvalidArgument([FieldViolation("notification_id", "not a notification id (a UUID)")]) from None
