"""Order events on the real Kafka become emails on a real SMTP server, once each."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY

from mesh.messaging.kafka import KafkaProducer
from mesh.settings.common import KafkaSettings
from notify_svc.dev_smtp import ReceivedMail
from testkit.wait import eventually
from tests.integration.notify.conftest import StartNotify
from tests.integration.notify.support import SmtpServer, confirmed, placed, publish

pytestmark = pytest.mark.integration


async def test_placed_and_confirmed_become_two_emails_with_the_order_details(
    start_notify: StartNotify, smtp: SmtpServer, producer: KafkaProducer, kafka: KafkaSettings
) -> None:
    service = await start_notify()
    order_id = f"ord-{uuid.uuid4().hex[:8]}"
    sent_before = _sent_total()

    await publish(producer, kafka, order_id, placed(order_id, "ada@example.com"))
    await publish(producer, kafka, order_id, confirmed(order_id, "ada@example.com"))

    mails = await eventually(
        lambda: _mails(smtp, order_id), until=lambda m: len(m) >= 2, timeout_s=30, what="two emails"
    )
    rows = await eventually(
        lambda: service.rows.fetch("order_id = $1", order_id),
        until=lambda r: len(r) == 2 and all(x["status"] == "SENT" for x in r),
        what="both notifications SENT",
    )
    assert sorted(m.subject for m in mails) == sorted(
        [f"We received your order {order_id}", f"Your order {order_id} is confirmed"]
    )
    for mail in mails:
        assert mail.rcpt_tos == ("ada@example.com",)
        assert mail.mail_from == "orders@oms.local"
        for detail in (order_id, "2 x Blue Mug @ 7.50 EUR = 15.00 EUR", "1 x Tea Towel", "Total: 19.25 EUR"):
            assert detail in mail.text
    assert "Status: CONFIRMED" in next(m.text for m in mails if "confirmed" in m.subject)
    assert sorted(m.message_id for m in mails) == sorted(f"<{r['id']}@oms.local>" for r in rows)
    assert [r["attempts"] for r in rows] == [1, 1]
    assert len(smtp.sink.mails_for(order_id)) == 2
    await eventually(lambda: _async(_sent_total() - sent_before), until=lambda n: n == 2, what="sent counter +2")


async def test_the_same_event_delivered_twice_sends_one_email(
    start_notify: StartNotify, smtp: SmtpServer, producer: KafkaProducer, kafka: KafkaSettings
) -> None:
    service = await start_notify()
    order_id = f"ord-{uuid.uuid4().hex[:8]}"
    event = placed(order_id)

    event_id = await publish(producer, kafka, order_id, event)
    await publish(producer, kafka, order_id, event, event_id=event_id)
    # Same key, same partition: once the later event is mailed, both copies were handled.
    await publish(producer, kafka, order_id, confirmed(order_id))

    await eventually(lambda: _mails(smtp, order_id), until=lambda m: len(m) >= 2, timeout_s=30, what="emails")
    rows = await eventually(
        lambda: service.rows.fetch("order_id = $1", order_id),
        until=lambda r: all(x["status"] == "SENT" for x in r),
        what="all SENT",
    )
    assert [r["event_id"] for r in rows].count(event_id) == 1
    assert len(rows) == 2
    assert sorted(m.subject for m in smtp.sink.mails_for(order_id)) == sorted(
        [f"We received your order {order_id}", f"Your order {order_id} is confirmed"]
    )


async def _mails(smtp: SmtpServer, order_id: str) -> list[ReceivedMail]:
    return smtp.sink.mails_for(order_id)


def _sent_total() -> float:
    return REGISTRY.get_sample_value("oms_notifications_sent_total", {"channel": "email"}) or 0.0


async def _async(value: float) -> float:
    return value
