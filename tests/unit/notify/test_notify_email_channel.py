"""The email adapter without a server: the message it builds and how it classifies SMTP errors."""

from __future__ import annotations

import aiosmtplib
import pytest

from notify_svc.adapters.email_channel import EmailChannel, SmtpConfig, classify
from notify_svc.domain.model import Notification, RenderedMessage
from notify_svc.domain.orders import CustomerContact
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
