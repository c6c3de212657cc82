"""GetPayment and ListPayments: what a caller may see of the payments."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.serving.errors import NotFound
from payment_svc.domain.model import Payment
from payment_svc.service_layer.ports import Cursor, Dependencies, ListQuery


@dataclass(frozen=True)
class Page:
    payments: list[Payment]
    # Where the next page starts; None on the last page.
    next: Cursor | None


async def get_payment(order_id: str, viewer: str | None, deps: Dependencies) -> Payment:
    """``viewer``: the customer asking (None for an admin). Another customer's payment, and one
    whose order is not known yet, is NOT_FOUND to a customer, like a missing one."""
    async with deps.uow() as uow:
        payment = await uow.payments.get(order_id)
    if payment is None or (viewer is not None and payment.customer_id != viewer):
        raise NotFound(f"no payment for order {order_id!r}")
    return payment


async def list_payments(query: ListQuery, deps: Dependencies) -> Page:
    async with deps.uow() as uow:
        # One more than asked: tells whether a next page exists without a count query.
        rows = await uow.payments.list(ListQuery(query.limit + 1, query.customer_id, query.status, query.after))
    page = rows[: query.limit]
    more = len(rows) > query.limit and page
    last = page[-1] if more else None
    cursor = Cursor(last.created_at, last.order_id) if last is not None and last.created_at else None
    return Page(page, cursor)
