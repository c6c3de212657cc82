"""Payment mails: one per event, never two for the same thing. Payment received is the PAID
status mail, payment failed is the cancellation it caused (with its own subject), and a refund
(PaymentRefunded, which carries no contact) goes to whom the order's earlier mails went."""

from __future__ import annotations

from decimal import Decimal

from notify_svc.domain.orders import EventKind, Money, OrderEvent, OrderSnapshot
from notify_svc.domain.templates import render
from notify_svc.service_layer.notifications import record_order_event, record_payment_refunded
from tests.unit.notify.fakes import Harness, cancelled, placed, status_changed


def refunded(event_id: str = "ev-refund", order_id: str = "ord-1") -> OrderEvent:
    order = OrderSnapshot(order_id, "", "REFUNDED", (), Money("EUR", Decimal("19.25")))
    return OrderEvent(event_id, EventKind.PAYMENT_REFUNDED, order, None, new_status="REFUNDED", reason="goodwill")


def test_payment_received_is_the_paid_status_mail() -> None:
    assert render(status_changed(new_status="PAID")).subject == "Payment received for your order ord-1"


def test_a_cancellation_caused_by_a_failed_payment_says_so() -> None:
    mail = render(cancelled(reason="payment failed: Your card was declined."))
    assert mail.subject == "Payment failed for your order ord-1"
    assert "nothing was charged" in mail.body_text and "Your card was declined." in mail.body_text
    assert render(cancelled()).subject == "Your order ord-1 was cancelled"


async def test_a_refund_is_mailed_once_to_the_orders_earlier_recipient() -> None:
    h = Harness()
    await record_order_event(placed(email="ada@example.com"), h.deps)

    [mail] = await record_payment_refunded(refunded(), h.deps)
    again = await record_payment_refunded(refunded(), h.deps)

    assert (mail.recipient, mail.customer_id, mail.status.value) == ("ada@example.com", "cust-1", "PENDING")
    assert mail.message.subject == "Your refund for order ord-1"
    assert "19.25 EUR" in mail.message.body_text and "goodwill" in mail.message.body_text
    assert again == []


async def test_a_refund_of_an_order_never_mailed_fails_at_once_naming_why() -> None:
    h = Harness()
    [mail] = await record_payment_refunded(refunded(order_id="ord-unknown"), h.deps)
    assert mail.status.value == "FAILED" and "unknown customer" in mail.last_error
