"""``oms.notify.v1.NotificationService``: translates protobuf to handler calls and back."""

from __future__ import annotations

from datetime import datetime

import grpc

from mesh.auth.principal import SYNTHETIC_ADMIN, current_principal
from mesh.serving.errors import InvalidArgument, PermissionDenied
from mesh.serving.wire import optional_timestamp, timestamp
from mesh.storage.paging import PageTokens, page_size
from mesh.values.violations import FieldViolation
from notify_svc.domain.model import Notification, Status
from notify_svc.service_layer.notifications import list_notifications, retry_notification
from notify_svc.service_layer.ports import Cursor, Dependencies, ListQuery
from oms.notify.v1 import notify_pb2, notify_pb2_grpc

_STATUS_TO_PB = {
    Status.PENDING: notify_pb2.NOTIFICATION_STATUS_PENDING,
    Status.SENT: notify_pb2.NOTIFICATION_STATUS_SENT,
    Status.FAILED: notify_pb2.NOTIFICATION_STATUS_FAILED,
}
_STATUS_FROM_PB = {pb: status for status, pb in _STATUS_TO_PB.items()}
# A channel the contract does not know yet shows as UNSPECIFIED until the enum gains a value.
_CHANNEL_TO_PB = {"email": notify_pb2.CHANNEL_EMAIL, "sms": notify_pb2.CHANNEL_SMS}


class NotificationServicer(notify_pb2_grpc.NotificationServiceServicer):
    def __init__(self, deps: Dependencies, page_tokens: PageTokens) -> None:
        self._deps = deps
        self._tokens = page_tokens

    async def ListNotifications(
        self, request: notify_pb2.ListNotificationsRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> notify_pb2.ListNotificationsResponse:
        query = _list_query(request, self._tokens)
        page = await list_notifications(query, self._deps)
        token = ""
        if page.next:
            token = self._tokens.encode(
                "notifications", [page.next.create_time, page.next.notification_id], filters=_filters(request)
            )
        return notify_pb2.ListNotificationsResponse(
            notifications=[to_pb(n) for n in page.notifications], next_page_token=token
        )

    async def RetryNotification(
        self, request: notify_pb2.RetryNotificationRequest, context: grpc.aio.ServicerContext[object, object]
    ) -> notify_pb2.RetryNotificationResponse:
        notification = await retry_notification(request.notification_id.strip(), self._deps)
        return notify_pb2.RetryNotificationResponse(notification=to_pb(notification))


def _list_query(request: notify_pb2.ListNotificationsRequest, tokens: PageTokens) -> ListQuery:
    limit = page_size(request.page_size)
    status = None
    if request.status != notify_pb2.NOTIFICATION_STATUS_UNSPECIFIED:
        status = _STATUS_FROM_PB.get(request.status)
        if status is None:
            raise InvalidArgument([FieldViolation("status", f"unknown status {request.status}")])
    # Keyset position (time, id); a token continues only the listing with the filters it came from.
    position = tokens.decode("notifications", request.page_token, (datetime, str), filters=_filters(request))
    after = Cursor(*position) if position is not None else None
    return ListQuery(
        limit=limit, order_id=request.order_id, status=status, after=after, customer_id=_visible_customer(request)
    )


def _visible_customer(request: notify_pb2.ListNotificationsRequest) -> str:
    """Whose notifications the caller may list: a customer only their own, an admin anyone's."""
    principal = current_principal() or SYNTHETIC_ADMIN
    if principal.is_admin:
        return request.customer_id
    # The interceptor has refused another customer's id already (owner_field); this is the
    # same rule where the data is read, so the filter can never be left off.
    if request.customer_id and request.customer_id != principal.id:
        raise PermissionDenied("a customer can list only their own notifications")
    return principal.id


def _filters(request: notify_pb2.ListNotificationsRequest) -> dict[str, str | int]:
    return {"order_id": request.order_id, "status": request.status, "customer_id": request.customer_id}


def to_pb(n: Notification) -> notify_pb2.Notification:
    return notify_pb2.Notification(
        notification_id=n.notification_id,
        event_id=n.event_id,
        event_type=n.event_type,
        order_id=n.order_id,
        customer_id=n.customer_id,
        channel=_CHANNEL_TO_PB.get(n.channel, notify_pb2.CHANNEL_UNSPECIFIED),
        recipient=n.recipient,
        subject=n.message.subject,
        status=_STATUS_TO_PB[n.status],
        attempts=n.attempts,
        last_error=n.last_error,
        create_time=timestamp(n.create_time),
        update_time=timestamp(n.update_time),
        sent_time=optional_timestamp(n.sent_time),
    )
