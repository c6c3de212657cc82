"""What the order and inventory events mean for a payment (the saga's payment step).

Each handler records the event in the inbox and changes the payment in one transaction; when
that starts a provider step (the authorization, a capture, a refund), the step is committed
first and settled right after (``steps.settle``). A redelivered event changes nothing, but if
its payment still owes a step (a crash between the provider's answer and its commit), the
redelivery settles it, by asking the provider first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mesh.serving.errors import FailedPrecondition, NotFound
from payment_svc.domain.model import Payment, RefundRefused, order_facts
from payment_svc.service_layer import steps
from payment_svc.service_layer.ports import Dependencies

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderPlaced:
    event_id: str
    order_id: str
    customer_id: str
    total_minor: int
    currency: str
    line_totals_minor: Sequence[int]
    payment_method: str


@dataclass(frozen=True)
class InventoryReserved:
    event_id: str
    order_id: str


@dataclass(frozen=True)
class OrderCancelled:
    event_id: str
    order_id: str
    reason: str


@dataclass(frozen=True)
class OrderShipped:
    event_id: str
    order_id: str


async def order_placed(event: OrderPlaced, deps: Dependencies) -> str:
    facts = order_facts(
        customer_id=event.customer_id,
        total_minor=event.total_minor,
        currency=event.currency,
        line_totals_minor=event.line_totals_minor,
        payment_method=event.payment_method,
    )
    return await _apply(event.event_id, event.order_id, lambda p: p.order_placed(facts), deps)


async def inventory_reserved(event: InventoryReserved, deps: Dependencies) -> str:
    return await _apply(event.event_id, event.order_id, Payment.inventory_reserved, deps)


async def order_cancelled(event: OrderCancelled, deps: Dependencies) -> str:
    reason = f"order cancelled: {event.reason}" if event.reason else "order cancelled"
    return await _apply(event.event_id, event.order_id, lambda p: p.order_cancelled(reason), deps, create=False)


async def order_shipped(event: OrderShipped, deps: Dependencies) -> str:
    return await _apply(event.event_id, event.order_id, Payment.order_shipped, deps, create=False)


async def refund_payment(order_id: str, reason: str, deps: Dependencies) -> Payment:
    """An operator's refund: recorded, then settled at once (or by the reconciler later)."""
    async with deps.uow() as uow:
        payment = await uow.payments.get(order_id, for_update=True)
        if payment is None:
            raise NotFound(f"no payment for order {order_id!r}")
        try:
            started = payment.request_refund(reason.strip())
        except RefundRefused as exc:
            raise FailedPrecondition(str(exc), reason="PAYMENT_NOT_REFUNDABLE") from None
        if started:
            payment.claim(deps.clock(), deps.policy.lease)
            await uow.payments.save(payment)
            await uow.commit()
    if started:
        await steps.settle(order_id, deps, ask_first=False)
    async with deps.uow() as uow:
        settled = await uow.payments.get(order_id)
    assert settled is not None
    return settled


async def _apply(
    event_id: str, order_id: str, change: Callable[[Payment], None], deps: Dependencies, *, create: bool = True
) -> str:
    """One event's change to its payment; returns the outcome for the metrics."""
    async with deps.uow() as uow:
        first_time = await uow.claim(event_id)
        payment = await uow.payments.get(order_id, for_update=True)
        if first_time and payment is None and create:
            # OrderPlaced and InventoryReserved come from different topics and may be handled at
            # once: the row is created empty (or found created by the other), then locked, so the
            # two changes apply one after the other.
            await uow.payments.add(Payment(order_id))
            payment = await uow.payments.get(order_id, for_update=True)
        if not first_time:
            outcome = "redelivered"
        elif payment is None:
            # A cancellation or shipment of an order this service never heard of: nothing is held.
            outcome = "unknown_order"
        else:
            before = payment.step()
            change(payment)
            if not payment.start_if_ready(deps.clock(), deps.policy.lease) and payment.step() not in (None, before):
                payment.claim(deps.clock(), deps.policy.lease)  # a capture or refund starts now
            await uow.payments.save(payment)
            outcome = "applied"
        await uow.commit()
    if payment is not None and payment.step() is not None:
        # First time: the step this event started (or one under way). Redelivered: perhaps the
        # process died between the provider's answer and its commit; asking the provider is safe
        # even while someone else settles the same step (the outcome is applied once).
        await steps.settle(order_id, deps, ask_first=outcome == "redelivered")
    return outcome
