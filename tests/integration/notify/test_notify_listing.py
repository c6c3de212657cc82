"""ListNotifications over gRPC on a real database: newest first, keyset pages, filters."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from mesh.messaging.events import EventEnvelope
from notify_svc.entrypoints.event_handlers import to_domain
from notify_svc.service_layer.notifications import record_order_event
from oms.notify.v1 import notify_pb2
from tests.integration.notify.conftest import RunningNotify, StartNotify
from tests.integration.notify.support import confirmed, placed

pytestmark = pytest.mark.integration


async def record(service: RunningNotify, order_id: str, message: Any) -> str:
    event_id = str(uuid.uuid4())
    envelope = EventEnvelope(event_id, message.DESCRIPTOR.full_name, "tests", order_id, message, "orders", 0, 0, {})
    await record_order_event(to_domain(envelope), service.deps)
    return event_id


async def list_all(service: RunningNotify, **filters: Any) -> tuple[list[notify_pb2.Notification], int]:
    """Every page of a listing, following the tokens (bounded, so a token loop fails the test)."""
    seen: list[notify_pb2.Notification] = []
    token = ""
    for pages in range(1, 50):
        response = await service.stub.ListNotifications(
            notify_pb2.ListNotificationsRequest(page_token=token, **filters)
        )
        seen.extend(response.notifications)
        token = response.next_page_token
        if not token:
            return seen, pages
    raise AssertionError("listing did not end")


async def test_pages_newest_first_and_filters_by_order_and_status(start_notify: StartNotify) -> None:
    service = await start_notify(run_workers=False)  # nothing is sent: every row stays as recorded
    order_a, order_b = f"ord-a-{uuid.uuid4().hex[:6]}", f"ord-b-{uuid.uuid4().hex[:6]}"
    events_a = [await record(service, order_a, placed(order_a)) for _ in range(7)]
    await record(service, order_b, confirmed(order_b))
    failed_b = await record(service, order_b, placed(order_b, "broken"))

    page_a, pages = await list_all(service, order_id=order_a, page_size=3)
    assert pages == 3
    assert [n.event_id for n in page_a] == list(reversed(events_a))  # newest first, no gaps, no repeats
    first = page_a[0]
    assert (first.order_id, first.recipient, first.channel) == (order_a, "ada@example.com", notify_pb2.CHANNEL_EMAIL)
    assert first.status == notify_pb2.NOTIFICATION_STATUS_PENDING
    assert first.subject == f"We received your order {order_a}"
    assert first.event_type == "oms.order.v1.OrderPlaced"
    assert first.create_time.ToDatetime() >= page_a[-1].create_time.ToDatetime()
    assert not first.HasField("sent_time")

    failed, _ = await list_all(service, status=notify_pb2.NOTIFICATION_STATUS_FAILED)
    assert [n.event_id for n in failed] == [failed_b]
    assert failed[0].last_error.startswith("invalid email address")

    both, _ = await list_all(service, order_id=order_b)
    assert len(both) == 2
    everything, pages = await list_all(service)
    assert (len(everything), pages) == (9, 1)  # default page size 50


async def test_bad_listing_requests_are_invalid_arguments(start_notify: StartNotify) -> None:
    service = await start_notify(run_workers=False)
    order_id = f"ord-{uuid.uuid4().hex[:6]}"
    for _ in range(3):
        await record(service, order_id, placed(order_id))
    first = await service.stub.ListNotifications(notify_pb2.ListNotificationsRequest(order_id=order_id, page_size=1))
    assert first.next_page_token

    bad_requests = [
        notify_pb2.ListNotificationsRequest(page_size=-1),
        notify_pb2.ListNotificationsRequest(page_token="garbage"),
        # A token continues only the listing it came from.
        notify_pb2.ListNotificationsRequest(page_token=first.next_page_token, order_id="other"),
        notify_pb2.ListNotificationsRequest(status=99),  # type: ignore[arg-type]
    ]
    for request in bad_requests:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await service.stub.ListNotifications(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request

    huge = await service.stub.ListNotifications(notify_pb2.ListNotificationsRequest(page_size=10_000))
    assert len(huge.notifications) == 3  # clamped to 500, not refused
