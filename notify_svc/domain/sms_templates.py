"""The text messages: one short line per event, at most one SMS segment (160 GSM characters).

They name the order and what happened, nothing else: a text message shows on a locked screen,
so no name, address, item or amount is in it. An event without a text of its own (a kind
added later) gets the status line.
"""

from __future__ import annotations

from notify_svc.domain.model import RenderedMessage
from notify_svc.domain.orders import EventKind, OrderEvent

MAX_SMS_CHARS = 160
# Order ids are at most 128 characters (the contracts' bound); longer ones are cut so a text
# never needs a second segment.
_MAX_ORDER_ID_CHARS = 64

_STATUS_TEXTS: dict[str, str] = {
    "CONFIRMED": "OMS Shop: your order {order_id} is confirmed.",
    "REJECTED": "OMS Shop: we could not fulfil your order {order_id}. See your email for details.",
    "PAID": "OMS Shop: payment received for order {order_id}.",
    "SHIPPED": "OMS Shop: your order {order_id} has shipped.",
    "DELIVERED": "OMS Shop: your order {order_id} was delivered.",
}


def render_sms(event: OrderEvent) -> RenderedMessage:
    text = _text(event)
    if len(text) > MAX_SMS_CHARS:
        text = text[: MAX_SMS_CHARS - 1] + "…"
    return RenderedMessage(subject=text, body_text=text)


def _text(event: OrderEvent) -> str:
    order_id = event.order.order_id
    if len(order_id) > _MAX_ORDER_ID_CHARS:
        order_id = order_id[: _MAX_ORDER_ID_CHARS - 1] + "…"
    if event.kind is EventKind.ORDER_PLACED:
        return f"OMS Shop: we received your order {order_id}. We will confirm it shortly."
    if event.kind is EventKind.ORDER_CANCELLED:
        return f"OMS Shop: your order {order_id} was cancelled."
    status = event.new_status[:20]
    return _STATUS_TEXTS.get(status, "OMS Shop: your order {order_id} is now {status}.").format(
        order_id=order_id, status=status
    )
