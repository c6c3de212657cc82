"""Delivery failures on a real SMTP server: outages are retried, refusals fail, admins retry."""

from __future__ import annotations

import uuid

import grpc
import pytest

from mesh.messaging.kafka import KafkaProducer
from mesh.settings.common import KafkaSettings
from notify_svc.dev_smtp import ReceivedMail
from oms.notify.v1 import notify_pb2
from testkit.wait import eventually
from tests.integration.notify.conftest import StartNotify
from tests.integration.notify.support import SmtpServer, confirmed, placed, publish

pytestmark = pytest.mark.integration


async def test_while_smtp_is_down_rows_retry_and_are_delivered_once_it_is_back(
    start_notify: StartNotify, smtp: SmtpServer, producer: KafkaProducer, kafka: KafkaSettings
) -> None:
    service = await start_notify(max_attempts=100)
    smtp.stop()
    order_ids = [f"ord-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for order_id in order_ids:
        await publish(producer, kafka, order_id, placed(order_id))

    await eventually(
        lambda: service.rows.fetch(),
        until=lambda rows: len(rows) == 3 and all(r["status"] == "PENDING" and r["attempts"] >= 2 for r in rows),
        timeout_s=30,
        what="every row retried at least twice",
    )
    rows = await service.rows.fetch()
    assert all(r["last_error"] for r in rows), rows
    assert smtp.sink.received == []

    smtp.start()
    await eventually(
        lambda: service.rows.fetch(),
        until=lambda rows: len(rows) == 3 and all(r["status"] == "SENT" for r in rows),
        timeout_s=30,
        what="every row SENT after the server came back",
    )
    for order_id in order_ids:
        assert len(smtp.sink.mails_for(order_id)) == 1


async def test_a_permanent_refusal_fails_at_once_and_retry_resends_after_the_fix(
    start_notify: StartNotify, smtp: SmtpServer, producer: KafkaProducer, kafka: KafkaSettings
) -> None:
    service = await start_notify()
    smtp.sink.refused.add("bounce@example.com")
    order_id = f"ord-{uuid.uuid4().hex[:8]}"
    await publish(producer, kafka, order_id, placed(order_id, "bounce@example.com"))

    [failed] = await eventually(
        lambda: service.rows.fetch("order_id = $1", order_id),
        until=lambda rows: len(rows) == 1 and rows[0]["status"] == "FAILED",
        timeout_s=30,
        what="the refused notification FAILED",
    )
    assert failed["attempts"] == 1
    assert "550" in failed["last_error"] and "mailbox unavailable" in failed["last_error"]

    smtp.sink.refused.clear()  # the cause is fixed (e.g. the customer's mailbox exists again)
    response = await service.stub.RetryNotification(notify_pb2.RetryNotificationRequest(notification_id=failed["id"]))
    assert response.notification.status == notify_pb2.NOTIFICATION_STATUS_PENDING
    assert response.notification.attempts == 0

    mails = await eventually(
        lambda: _mails(smtp, order_id), until=lambda m: len(m) == 1, timeout_s=30, what="the resent mail"
    )
    assert mails[0].message_id == f"<{failed['id']}@oms.local>"
    [sent] = await eventually(
        lambda: service.rows.fetch("order_id = $1", order_id),
        until=lambda rows: rows[0]["status"] == "SENT",
        what="the retried notification SENT",
    )
    assert sent["attempts"] == 1

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.stub.RetryNotification(notify_pb2.RetryNotificationRequest(notification_id=failed["id"]))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "is SENT" in (caught.value.details() or "")


async def test_retry_of_an_unknown_notification_is_not_found(start_notify: StartNotify) -> None:
    service = await start_notify(run_workers=False)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.stub.RetryNotification(notify_pb2.RetryNotificationRequest(notification_id=str(uuid.uuid4())))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await service.stub.RetryNotification(notify_pb2.RetryNotificationRequest(notification_id="nope"))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_a_missing_or_invalid_email_fails_at_once_without_a_send(
    start_notify: StartNotify, smtp: SmtpServer, producer: KafkaProducer, kafka: KafkaSettings
) -> None:
    service = await start_notify()
    bad, empty, good = (f"ord-{uuid.uuid4().hex[:8]}" for _ in range(3))
    await publish(producer, kafka, bad, placed(bad, "not an address"))
    await publish(producer, kafka, empty, confirmed(empty, ""))
    await publish(producer, kafka, good, placed(good))

    rows = await eventually(
        lambda: service.rows.fetch(),
        until=lambda rows: len(rows) == 3 and all(r["status"] != "PENDING" for r in rows),
        timeout_s=30,
        what="all three settled",
    )
    by_order = {r["order_id"]: r for r in rows}
    assert (by_order[bad]["status"], by_order[bad]["attempts"]) == ("FAILED", 0)
    assert "invalid email address" in by_order[bad]["last_error"]
    assert (by_order[empty]["status"], by_order[empty]["last_error"]) == ("FAILED", "the customer has no email address")
    assert by_order[good]["status"] == "SENT"
    assert [m.subject for m in smtp.sink.received] == [f"We received your order {good}"]


async def _mails(smtp: SmtpServer, order_id: str) -> list[ReceivedMail]:
    return smtp.sink.mails_for(order_id)
