"""SMS as a second channel: a one-segment text with no personal data beyond the order id, sent
through the gateway adapter; a customer with a phone number gets an email and a text, one
without gets the email only."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest

from notify_svc.adapters.sms_channel import SmsChannel, SmsGatewayConfig
from notify_svc.dev_sms import SmsSink
from notify_svc.domain.orders import CustomerContact, EventKind, OrderEvent
from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.domain.sms_templates import MAX_SMS_CHARS, render_sms
from notify_svc.service_layer.delivery import DeliverySettings, Dispatcher
from notify_svc.service_layer.notifications import record_order_event
from notify_svc.service_layer.ports import DeliveryError
from tests.unit.notify.fakes import FakeSmsChannel, Harness, cancelled, contact, order, placed, status_changed

PHONE = "+4930123456"


def events() -> list[OrderEvent]:
    long_id = "o" * 128
    return [
        placed(),
        cancelled(),
        *(status_changed(new_status=s) for s in ("CONFIRMED", "REJECTED", "PAID", "SHIPPED", "DELIVERED", "ODD")),
        OrderEvent("ev-9", EventKind.ORDER_PLACED, order(long_id), contact(), new_status="PENDING"),
    ]


@pytest.mark.parametrize("event", events(), ids=lambda e: f"{e.kind.name}-{e.new_status}-{len(e.order.order_id)}")
def test_every_text_fits_one_segment_and_names_nothing_but_the_order(event: OrderEvent) -> None:
    message = render_sms(event)
    assert len(message.body_text) <= MAX_SMS_CHARS and message.subject == message.body_text
    assert event.order.order_id[:40] in message.body_text
    for private in ("Ada", "Lovelace", "ada@example.com", "Blue Mug", "19.25", "EUR", "changed my mind"):
        assert private not in message.body_text


def test_the_status_texts_say_what_happened() -> None:
    assert render_sms(status_changed(new_status="SHIPPED")).body_text == "OMS Shop: your order ord-1 has shipped."
    assert render_sms(cancelled()).body_text == "OMS Shop: your order ord-1 was cancelled."


def gateway(answer: httpx.Response | Exception, seen: list[httpx.Request]) -> SmsChannel:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    config = SmsGatewayConfig(url="http://127.0.0.1:9/messages", token="t0k")
    return SmsChannel(config, transport=httpx.MockTransport(handle))


def test_the_recipient_is_the_e164_phone_none_without_one_and_a_problem_when_malformed() -> None:
    channel = SmsChannel(SmsGatewayConfig(url="http://127.0.0.1:9/"))
    assert channel.recipient_for(CustomerContact("c", "Ada", "a@example.com", PHONE)).address == PHONE  # type: ignore[union-attr]
    assert channel.recipient_for(CustomerContact("c", "Ada", "a@example.com", "")) is None
    bad = channel.recipient_for(CustomerContact("c", "Ada", "a@example.com", "030 123"))
    assert bad is not None and "E.164" in (bad.problem or "")


async def test_the_gateway_gets_the_text_keyed_by_the_notification_id() -> None:
    h = Harness()
    seen: list[httpx.Request] = []
    channel = gateway(httpx.Response(201), seen)
    h.deps = dataclasses.replace(h.deps, channels={"email": h.channel, "sms": channel})
    [_, sms] = await record_order_event(placed(phone=PHONE), h.deps)
    await channel.send(sms)

    [request] = seen
    assert request.headers["idempotency-key"] == sms.notification_id
    assert request.headers["authorization"] == "Bearer t0k"
    assert json.loads(request.content) == {
        "id": sms.notification_id,
        "to": PHONE,
        "from": "OMS Shop",
        "text": "OMS Shop: we received your order ord-1. We will confirm it shortly.",
    }


@pytest.mark.parametrize(
    ("answer", "retriable"),
    [
        (httpx.Response(503), True),
        (httpx.Response(429), True),
        (httpx.ConnectError("refused"), True),
        (httpx.Response(400), False),
        (httpx.Response(422), False),
    ],
)
async def test_gateway_failures_are_classified_like_the_webhooks(
    answer: httpx.Response | Exception, retriable: bool
) -> None:
    h = Harness()
    with_sms(h)
    [_, sms] = await record_order_event(placed(phone=PHONE), h.deps)
    with pytest.raises(DeliveryError) as caught:
        await gateway(answer, []).send(sms)
    assert caught.value.retriable is retriable


def with_sms(h: Harness) -> FakeSmsChannel:
    sms = FakeSmsChannel()
    h.deps = dataclasses.replace(h.deps, channels={"email": h.channel, "sms": sms})
    return sms


async def test_a_customer_with_a_phone_gets_an_email_and_a_text_one_without_the_email_only() -> None:
    h = Harness()
    sms = with_sms(h)

    with_phone = await record_order_event(placed("ev-1", phone=PHONE), h.deps)
    without = await record_order_event(placed("ev-2", order_id="ord-2"), h.deps)
    await Dispatcher(h.deps, DeliverySettings(policy=RetryPolicy())).dispatch_due()

    assert sorted((n.channel, n.recipient) for n in with_phone) == [("email", "ada@example.com"), ("sms", PHONE)]
    assert [(n.channel, n.recipient) for n in without] == [("email", "ada@example.com")]
    assert [n.order_id for n in sms.sent] == ["ord-1"]
    assert sorted(n.order_id for n in h.channel.sent) == ["ord-1", "ord-2"]
    # A redelivered event sends no second text.
    assert await record_order_event(placed("ev-1", phone=PHONE), h.deps) == []


async def test_an_event_without_a_customer_records_the_failed_email_and_no_text() -> None:
    h = Harness()
    with_sms(h)
    event = OrderEvent("ev-1", EventKind.ORDER_PLACED, order(), None, new_status="PENDING")
    [n] = await record_order_event(event, h.deps)
    assert (n.channel, n.status.value) == ("email", "FAILED")


def test_the_development_sink_keeps_each_message_once_and_appends_it_to_its_file(tmp_path: Path) -> None:
    out = tmp_path / "sms.jsonl"
    sink = SmsSink(out).serve()
    try:
        body = {"id": "n-1", "to": PHONE, "from": "OMS Shop", "text": "hello"}
        first = httpx.post(sink.url, json=body, timeout=5)
        again = httpx.post(sink.url, json=body, timeout=5)
        broken = httpx.post(sink.url, content=b"{}", headers={"content-type": "application/json"}, timeout=5)
    finally:
        sink.close()
    assert (first.status_code, again.status_code, broken.status_code) == (201, 200, 400)
    assert again.json() == {"id": "n-1", "duplicate": True}
    assert [m.text for m in sink.received] == ["hello"]
    assert [json.loads(line) for line in out.read_text().splitlines()] == [body]
