"""The email adapter without a server: the message it builds, how it classifies SMTP errors, and the
span of a send."""

from __future__ import annotations

from typing import Any

import aiosmtplib
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from notify_svc.adapters import email_channel
from notify_svc.adapters.email_channel import EmailChannel, SmtpConfig, classify
from notify_svc.domain.model import Notification, RenderedMessage
from notify_svc.domain.orders import CustomerContact
from notify_svc.service_layer.ports import DeliveryError
from tests.unit.notify.fakes import T0

CHANNEL = EmailChannel(SmtpConfig(host="127.0.0.1", port=1, mail_from="OMS Shop <orders@oms.local>"))


def notification() -> Notification:
    return Notification.pending(
        notification_id="2f1c6f5e-0000-4000-8000-000000000001",
        event_id="ev-1",
        event_type="oms.order.v1.OrderPlaced",
        order_id="ord-1",
        customer_id="cust-1",
        channel="email",
        recipient="ada@example.com",
        message=RenderedMessage("Your order", "plain body\n", "<p>html body</p>"),
        now=T0,
    )


def test_the_message_has_a_stable_message_id_and_date() -> None:
    first, again = CHANNEL.build(notification()), CHANNEL.build(notification())
    assert first["Message-ID"] == "<2f1c6f5e-0000-4000-8000-000000000001@oms.local>"
    assert first["Date"] == again["Date"] == "Sat, 01 Mar 2025 12:00:00 +0000"
    assert (first["To"], first["From"], first["Subject"]) == (
        "ada@example.com",
        "OMS Shop <orders@oms.local>",
        "Your order",
    )
    assert first.get_body(("plain",)).get_content() == "plain body\n"  # type: ignore[union-attr]
    assert "html body" in first.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_recipient_problems_are_named() -> None:
    assert CHANNEL.recipient_for(CustomerContact("c", "n", " ada@example.com ")).address == "ada@example.com"
    assert CHANNEL.recipient_for(CustomerContact("c", "n", "")).problem == "the customer has no email address"
    assert "invalid email address 'nope'" in str(CHANNEL.recipient_for(CustomerContact("c", "n", "nope")).problem)


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b.c")]), False),
        (aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(450, "mailbox busy", "a@b.c")]), True),
        (aiosmtplib.SMTPRecipientRefused(553, "bad mailbox", "a@b.c"), False),
        (aiosmtplib.SMTPDataError(554, "message rejected"), False),
        (aiosmtplib.SMTPDataError(451, "try again"), True),
        (aiosmtplib.SMTPSenderRefused(550, "not allowed", "orders@oms.local"), True),
        (aiosmtplib.SMTPAuthenticationError(535, "bad credentials"), True),
        (aiosmtplib.SMTPConnectError("connection refused"), True),
        (aiosmtplib.SMTPServerDisconnected("gone"), True),
        (aiosmtplib.SMTPReadTimeoutError("slow"), True),
        (ConnectionRefusedError(111, "refused"), True),
    ],
)
def test_only_a_5xx_refusal_of_the_message_is_permanent(error: BaseException, retriable: bool) -> None:
    assert classify(error).retriable is retriable


async def test_an_unreachable_server_is_a_retriable_delivery_error() -> None:
    from notify_svc.service_layer.ports import DeliveryError

    with pytest.raises(DeliveryError) as caught:
        await CHANNEL.send(notification())
    assert caught.value.retriable


CALLER_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CONSUME_SPAN_ID = "00f067aa0ba902b7"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(email_channel, "_tracer", provider.get_tracer("test"))
    return exporter


def recorded_under_a_consume_span() -> Notification:
    sent = notification()
    sent.trace_context = {"traceparent": f"00-{CALLER_TRACE_ID}-{CONSUME_SPAN_ID}-01"}
    sent.attempts = 2
    return sent


def _no_address(span: ReadableSpan) -> None:
    shown = [str(v) for v in (span.attributes or {}).values()] + [span.status.description or ""]
    assert not any("@" in text for text in shown), f"an e-mail address in the span: {shown}"


async def test_a_send_is_a_client_span_under_the_span_that_recorded_it(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def accepted(*args: Any, **kwargs: Any) -> None:
        return None

    monkeypatch.setattr(aiosmtplib, "send", accepted)
    await CHANNEL.send(recorded_under_a_consume_span())
    [span] = spans.get_finished_spans()
    assert span.name == "smtp send" and span.kind == SpanKind.CLIENT
    context = span.get_span_context()
    assert context is not None and f"{context.trace_id:032x}" == CALLER_TRACE_ID
    assert span.parent is not None and f"{span.parent.span_id:016x}" == CONSUME_SPAN_ID
    assert dict(span.attributes or {}) == {
        "server.address": "127.0.0.1",
        "server.port": 1,
        "network.transport": "tcp",
        "network.protocol.name": "smtp",
        "notification.id": "2f1c6f5e-0000-4000-8000-000000000001",
        "notification.channel": "email",
        "notification.attempt": 2,
        "cloudevents.event_id": "ev-1",
        "order.id": "ord-1",
    }
    assert span.status.status_code == StatusCode.UNSET
    _no_address(span)


async def test_a_refused_send_is_an_error_span_that_quotes_no_address(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused(*args: Any, **kwargs: Any) -> None:
        raise aiosmtplib.SMTPRecipientRefused(550, "<ada@example.com>: no such user", "ada@example.com")

    monkeypatch.setattr(aiosmtplib, "send", refused)
    with pytest.raises(DeliveryError):
        await CHANNEL.send(recorded_under_a_consume_span())
    [span] = spans.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR and span.status.description == "permanent"
    attributes = span.attributes or {}
    assert attributes["error.type"] == "SMTPRecipientRefused"
    assert attributes["smtp.response.code"] == 550 and attributes["notification.retriable"] is False
    assert not span.events, "no exception event: its message would quote the address"
    _no_address(span)
