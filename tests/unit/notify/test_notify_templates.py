"""Which event becomes which message: subject and body carry the order's details."""

from __future__ import annotations

import pytest

from notify_svc.domain.orders import OrderEvent
from notify_svc.domain.templates import render
from tests.unit.notify.fakes import cancelled, placed, status_changed

ITEM_FACTS = ["Blue Mug", "2 x", "7.50 EUR", "15.00 EUR", "Tea Towel", "1 x", "4.25 EUR", "Total: 19.25 EUR"]


@pytest.mark.parametrize(
    ("event", "subject", "status"),
    [
        (placed(), "We received your order ord-1", "PENDING"),
        (status_changed(new_status="CONFIRMED"), "Your order ord-1 is confirmed", "CONFIRMED"),
        (status_changed(new_status="SHIPPED"), "Your order ord-1 has shipped", "SHIPPED"),
        (status_changed(new_status="PAID"), "Payment received for your order ord-1", "PAID"),
        (status_changed(new_status="DELIVERED"), "Your order ord-1 was delivered", "DELIVERED"),
        (
            status_changed(new_status="REJECTED", reason="out of stock"),
            "We could not fulfil your order ord-1",
            "REJECTED",
        ),
        (cancelled(), "Your order ord-1 was cancelled", "CANCELLED"),
    ],
)
def test_each_event_type_has_its_subject_and_a_body_with_the_order_details(
    event: OrderEvent, subject: str, status: str
) -> None:
    message = render(event)

    assert message.subject == subject
    assert "Hello Ada Lovelace," in message.body_text
    assert "Order: ord-1" in message.body_text
    assert f"Status: {status}" in message.body_text
    for fact in ITEM_FACTS:
        assert fact in message.body_text
    assert "ord-1" in message.body_html and "Blue Mug" in message.body_html and "19.25 EUR" in message.body_html


def test_a_status_the_templates_do_not_name_still_gets_a_sensible_subject() -> None:
    assert render(status_changed(new_status="LOST_AT_SEA")).subject == "Your order ord-1 is now LOST_AT_SEA"


def test_the_reason_is_shown_when_there_is_one() -> None:
    assert "Reason: out of stock" in render(status_changed(new_status="REJECTED", reason="out of stock")).body_text
    assert "Reason: changed my mind" in render(cancelled()).body_text
    assert "Reason:" not in render(placed()).body_text


def test_html_escapes_what_came_from_outside() -> None:
    message = render(cancelled(reason="<script>alert(1)</script>"))
    assert "<script>" not in message.body_html
    assert "&lt;script&gt;" in message.body_html
