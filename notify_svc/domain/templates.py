"""Which event becomes which message: one template per event type (and per new status).

Templates are code, not files: they are few, they need the order's lines and totals laid out,
and a typo in one fails a unit test instead of a delivery.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from notify_svc.domain.model import RenderedMessage
from notify_svc.domain.orders import EventKind, OrderEvent, OrderLine

# What the customer is told when an order moves to a status (OrderStatusChanged).
_STATUS_SUBJECTS: dict[str, str] = {
    "CONFIRMED": "Your order {order_id} is confirmed",
    "REJECTED": "We could not fulfil your order {order_id}",
    "PAID": "Payment received for your order {order_id}",
    "SHIPPED": "Your order {order_id} has shipped",
    "DELIVERED": "Your order {order_id} was delivered",
}
_STATUS_LEADS: dict[str, str] = {
    "CONFIRMED": "Good news: every item of your order is reserved for you.",
    "REJECTED": "Unfortunately we could not reserve the items of your order, so it was not accepted.",
    "PAID": "We received your payment. We will let you know when your order ships.",
    "SHIPPED": "Your order is on its way.",
    "DELIVERED": "Your order was delivered. Thank you for shopping with us.",
}


def render(event: OrderEvent) -> RenderedMessage:
    subject, lead = _HEADLINES[event.kind](event)
    return RenderedMessage(subject=subject, body_text=_text(event, lead), body_html=_html(event, lead))


def _placed(event: OrderEvent) -> tuple[str, str]:
    return (
        f"We received your order {event.order.order_id}",
        "Thank you for your order. We are reserving your items and will confirm shortly.",
    )


def _status_changed(event: OrderEvent) -> tuple[str, str]:
    status = event.new_status
    subject = _STATUS_SUBJECTS.get(status, "Your order {order_id} is now {status}")
    lead = _STATUS_LEADS.get(status, f"Your order is now {status}.")
    return subject.format(order_id=event.order.order_id, status=status), lead


# The reason order_svc gives a cancellation caused by a failed payment (saga.apply_payment_failed).
PAYMENT_FAILED_PREFIX = "payment failed"


def _cancelled(event: OrderEvent) -> tuple[str, str]:
    if event.reason.startswith(PAYMENT_FAILED_PREFIX):
        # The customer's "payment failed" mail: one per failure, as the cancellation it caused.
        return (
            f"Payment failed for your order {event.order.order_id}",
            "We could not take the payment for your order, so it was cancelled and nothing was charged.",
        )
    return (
        f"Your order {event.order.order_id} was cancelled",
        "Your order was cancelled. If you already paid, the amount will be refunded.",
    )


def _refunded(event: OrderEvent) -> tuple[str, str]:
    return (
        f"Your refund for order {event.order.order_id}",
        f"We gave back {event.order.total} to your card. Depending on your bank it shows within a few days.",
    )


_HEADLINES: dict[EventKind, Callable[[OrderEvent], tuple[str, str]]] = {
    EventKind.ORDER_PLACED: _placed,
    EventKind.ORDER_STATUS_CHANGED: _status_changed,
    EventKind.ORDER_CANCELLED: _cancelled,
    EventKind.PAYMENT_REFUNDED: _refunded,
}


def _greeting(event: OrderEvent) -> str:
    name = event.customer.name.strip() if event.customer else ""
    return f"Hello {name}," if name else "Hello,"


def _facts(event: OrderEvent) -> list[tuple[str, str]]:
    facts = [("Order", event.order.order_id), ("Status", event.new_status)]
    if event.reason:
        facts.append(("Reason", event.reason))
    return facts


def _text(event: OrderEvent, lead: str) -> str:
    lines = [_greeting(event), "", lead, ""]
    lines += [f"{label}: {value}" for label, value in _facts(event)]
    lines += ["", "Items:"]
    lines += [_text_line(line) for line in event.order.lines]
    lines += [f"Total: {event.order.total}", "", "-- ", "OMS Shop"]
    return "\n".join(lines) + "\n"


def _text_line(line: OrderLine) -> str:
    return f"  {line.quantity} x {line.name or line.product_id} @ {line.unit_price} = {line.line_total}"


def _html(event: OrderEvent, lead: str) -> str:
    esc = html.escape
    facts = "".join(f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in _facts(event))
    rows = "".join(
        f"<tr><td>{esc(line.name or line.product_id)}</td><td align='right'>{line.quantity}</td>"
        f"<td align='right'>{esc(str(line.unit_price))}</td><td align='right'>{esc(str(line.line_total))}</td></tr>"
        for line in event.order.lines
    )
    return (
        f"<html><body><p>{esc(_greeting(event))}</p><p>{esc(lead)}</p>"
        f"<table>{facts}</table>"
        "<table><tr><th>Item</th><th>Qty</th><th>Unit price</th><th>Line total</th></tr>"
        f"{rows}<tr><th colspan='3' align='right'>Total</th>"
        f"<td align='right'>{esc(str(event.order.total))}</td></tr></table>"
        "<p>OMS Shop</p></body></html>"
    )
