"""The order service's part of the saga: react to the reservation outcome and to payments.

Each handler runs in one transaction that also records the event in the inbox, so a
redelivered event changes nothing. An outcome for an order that already moved on is ignored,
except a reservation that reaches an order holding no stock (cancelled or rejected, e.g. from
a replayed OrderPlaced): that one is handed back to inventory (OrderReservationUnwanted), so a
late reservation never leaks stock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from order_svc.domain.events import ReservationUnwanted
from order_svc.domain.model import Shortfall
from order_svc.domain.status import HOLDS_NO_STOCK, OrderStatus, can_transition
from order_svc.service_layer.lifecycle import save
from order_svc.service_layer.ports import Dependencies

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReservationOutcome:
    """Inventory's answer to an OrderPlaced; ``event_id`` is the answering event's (the inbox key)."""

    event_id: str
    order_id: str
    reserved: bool
    reason: str = ""
    shortfalls: tuple[Shortfall, ...] = ()


@dataclass(frozen=True)
class PaymentFailed:
    event_id: str
    order_id: str
    reason: str = ""


@dataclass(frozen=True)
class PaymentAuthorized:
    """payment_svc holds the order's total on the customer's card."""

    event_id: str
    order_id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class PaymentRefunded:
    event_id: str
    order_id: str
    reason: str = ""


async def apply_reservation_outcome(outcome: ReservationOutcome, deps: Dependencies) -> None:
    target = OrderStatus.CONFIRMED if outcome.reserved else OrderStatus.REJECTED
    async with deps.uow() as uow:
        if not await uow.claim(outcome.event_id):
            return
        order = await uow.orders.get(outcome.order_id, for_update=True)
        if order is None:
            log.warning("reservation outcome for an unknown order", extra={"order_id": outcome.order_id})
        elif outcome.reserved and order.status in HOLDS_NO_STOCK:
            # Stock was reserved for an order that no longer wants it (cancelled or rejected
            # before the reservation arrived, e.g. a replayed OrderPlaced): hand it back.
            uow.publish(ReservationUnwanted(order.order_id, order.status, outcome.event_id))
            log.warning(
                "reservation for an order that no longer waits for it: releasing",
                extra={"order_id": order.order_id, "status": order.status.value},
            )
        elif not can_transition(order.status, target):
            log.info(
                "reservation outcome ignored: order moved on",
                extra={"order_id": order.order_id, "status": order.status.value},
            )
        else:
            if outcome.reserved:
                order.move_to(OrderStatus.CONFIRMED)
            else:
                order.reject(outcome.reason or "insufficient stock", list(outcome.shortfalls))
            await save(uow, order, deps)
            log.info("order settled by its reservation", extra={"order_id": order.order_id, "status": target.value})
        await uow.commit()


async def apply_payment_failed(failed: PaymentFailed, deps: Dependencies) -> None:
    """A failed payment cancels the order; the cancellation releases its stock."""
    async with deps.uow() as uow:
        if not await uow.claim(failed.event_id):
            return
        order = await uow.orders.get(failed.order_id, for_update=True)
        if order is not None and can_transition(order.status, OrderStatus.CANCELLED):
            reason = f"payment failed: {failed.reason}" if failed.reason else "payment failed"
            order.move_to(OrderStatus.CANCELLED, reason=reason)
            await save(uow, order, deps)
        await uow.commit()


async def apply_payment_authorized(paid: PaymentAuthorized, deps: Dependencies) -> None:
    """An authorized payment makes the order PAID.

    The payments topic is not the inventory topic: PaymentAuthorized may overtake the
    InventoryReserved that caused it. payment_svc authorizes only after that reservation, so a
    PENDING order is CONFIRMED and PAID at once; the late InventoryReserved then finds it moved on.
    An order that moved on otherwise (PAID by hand, cancelled) stays as it is; payment_svc
    releases the hold of a cancelled order when it sees the cancellation.
    """
    async with deps.uow() as uow:
        if not await uow.claim(paid.event_id):
            return
        order = await uow.orders.get(paid.order_id, for_update=True)
        if order is None:
            log.warning("payment for an unknown order", extra={"order_id": paid.order_id})
        elif (paid.amount_minor, paid.currency) != (order.total_minor, order.currency):
            # Never expected (payment checks the total); an order is never PAID for another amount.
            log.error(
                "payment authorized for another amount than the order's total: order not marked paid",
                extra={"order_id": order.order_id, "amount_minor": paid.amount_minor, "currency": paid.currency},
            )
        elif order.status in (OrderStatus.PENDING, OrderStatus.CONFIRMED):
            if order.status is OrderStatus.PENDING:
                order.move_to(OrderStatus.CONFIRMED)
            order.move_to(OrderStatus.PAID, reason="payment authorized")
            await save(uow, order, deps)
        else:
            log.info(
                "payment authorized for an order that moved on",
                extra={"order_id": order.order_id, "status": order.status.value},
            )
        await uow.commit()


async def apply_payment_refunded(refunded: PaymentRefunded, deps: Dependencies) -> None:
    """A refund an operator made cancels the order if it has not shipped (which releases its
    stock); a refund that followed the order's own cancellation finds it cancelled already."""
    async with deps.uow() as uow:
        if not await uow.claim(refunded.event_id):
            return
        order = await uow.orders.get(refunded.order_id, for_update=True)
        if order is not None and can_transition(order.status, OrderStatus.CANCELLED):
            reason = f"payment refunded: {refunded.reason}" if refunded.reason else "payment refunded"
            order.move_to(OrderStatus.CANCELLED, reason=reason)
            await save(uow, order, deps)
        await uow.commit()


async def cancel_unpaid(cutoff: datetime, deps: Dependencies, *, batch: int = 100) -> int:
    """Cancels CONFIRMED orders not paid since ``cutoff``; safe with several sweepers."""
    async with deps.uow() as uow:
        expired = await uow.orders.confirmed_before(cutoff, limit=batch)
        for order_id in expired:
            order = await uow.orders.get(order_id)
            if order is None or not can_transition(order.status, OrderStatus.CANCELLED):
                continue
            order.move_to(OrderStatus.CANCELLED, reason="not paid in time; reservation expired")
            await save(uow, order, deps)
        await uow.commit()
    return len(expired)
