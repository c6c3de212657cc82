"""Reading orders and moving them through their lifecycle."""

from __future__ import annotations

from dataclasses import dataclass

from mesh.serving.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionViolation,
    shown,
)
from mesh.values.violations import FieldViolation
from order_svc.domain.model import Order
from order_svc.domain.status import SAGA_OUTCOMES, IllegalTransition, OrderStatus
from order_svc.service_layer.ports import Caller, Dependencies, OrderPageKey, UnitOfWork

# Only an admin (the warehouse, the payment desk) moves an order along these.
ADMIN_TARGETS = frozenset({OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED})


async def get_order(order_id: str, caller: Caller, deps: Dependencies) -> Order:
    """The order, through the cache (WatchOrder reads with ``read_order``: it must see every commit)."""

    async def load() -> Order | None:
        return await read_order(order_id, deps)

    return visible_to(caller, order_id, await deps.cache.read_through(order_id, load))


async def read_order(order_id: str, deps: Dependencies) -> Order | None:
    """The order as committed in the database (no cache, no access check)."""
    async with deps.uow() as uow:
        return await uow.orders.get(order_id)


def visible_to(caller: Caller, order_id: str, order: Order | None) -> Order:
    """``order`` if ``caller`` may see it; else NotFound, as for a missing one."""
    # Another customer's order is reported as missing: its existence is not theirs to know.
    if order is None or not caller.may_act_for(order.customer_id):
        raise NotFound(f"order {shown(order_id)} not found")
    return order


@dataclass(frozen=True)
class OrderPage:
    orders: list[Order]
    next_key: OrderPageKey | None


async def list_orders(
    *,
    caller: Caller,
    deps: Dependencies,
    limit: int,
    after: OrderPageKey | None,
    customer_id: str,
    status: OrderStatus | None,
) -> OrderPage:
    if not caller.is_admin:
        if customer_id and customer_id != caller.principal_id:
            raise PermissionDenied("a customer can list only their own orders")
        customer_id = caller.principal_id
    async with deps.uow() as uow:
        orders = await uow.orders.find_page(limit=limit + 1, after=after, customer_id=customer_id, status=status)
    page, more = orders[:limit], len(orders) > limit
    last = page[-1] if page else None
    next_key = OrderPageKey(last.created_at, last.order_id) if more and last and last.created_at else None
    return OrderPage(page, next_key)


async def change_status(order_id: str, target: OrderStatus, reason: str, caller: Caller, deps: Dependencies) -> Order:
    """UpdateOrderStatus: CONFIRMED → PAID → SHIPPED → DELIVERED (admin), or CANCELLED."""
    if target in SAGA_OUTCOMES:
        raise InvalidArgument(
            [FieldViolation("status", f"{target.value} is set by the stock reservation, not by callers")]
        )
    if target in ADMIN_TARGETS and not caller.is_admin:
        raise PermissionDenied(f"only an admin can mark an order {target.value}")
    return await transition(order_id, target, reason, deps, caller=caller)


async def cancel_order(order_id: str, reason: str, caller: Caller, deps: Dependencies) -> Order:
    return await transition(order_id, OrderStatus.CANCELLED, reason or "cancelled by request", deps, caller=caller)


async def transition(
    order_id: str, target: OrderStatus, reason: str, deps: Dependencies, *, caller: Caller | None = None
) -> Order:
    async with deps.uow() as uow:
        order = await uow.orders.get(order_id, for_update=True)
        if order is None or (caller is not None and not caller.may_act_for(order.customer_id)):
            raise NotFound(f"order {shown(order_id)} not found")
        try:
            order.move_to(target, reason=reason)
        except IllegalTransition as exc:
            raise illegal(exc) from None
        await save(uow, order, deps)
        await uow.commit()
    return order


async def save(uow: UnitOfWork, order: Order, deps: Dependencies) -> None:
    """Stores a changed order (its events go out with the commit); after the commit, evicts it
    from the cache and counts the change."""
    await uow.orders.save_transition(order)
    status = order.status

    async def committed() -> None:
        deps.metrics.order_moved(status)

    uow.after_commit(lambda: deps.cache.evict(order.order_id))
    uow.after_commit(committed)


def illegal(exc: IllegalTransition) -> FailedPrecondition:
    return FailedPrecondition(
        str(exc),
        reason="ILLEGAL_TRANSITION",
        metadata={"current_status": exc.current.value, "requested_status": exc.requested.value},
        violations=[PreconditionViolation("STATE", "status", str(exc))],
    )
