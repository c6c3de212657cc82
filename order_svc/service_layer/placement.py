"""PlaceOrder: validate, price from the catalog, pre-check stock, write order + event at once."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from mesh.serving.errors import (
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    PreconditionViolation,
    Unavailable,
)
from mesh.values import money
from mesh.values.violations import FieldViolation
from order_svc.domain.model import Order, OrderLine
from order_svc.domain.placement import (
    CatalogEntry,
    RequestedLine,
    check_catalog,
    check_lines,
    check_merged,
    merge_lines,
    summarized,
)
from order_svc.service_layer.ports import Caller, Dependencies

log = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: str
    lines: list[RequestedLine]
    idempotency_key: str = ""
    # The payment provider's token; empty: the order waits CONFIRMED for payment by other means.
    payment_method: str = ""


async def place_order(command: PlaceOrder, caller: Caller, deps: Dependencies) -> Order:
    lines = _validated_lines(command)
    if not caller.may_act_for(command.customer_id):
        raise PermissionDenied("a customer can place orders only for themselves")
    request_hash = _request_hash(command.customer_id, lines, command.payment_method)
    if command.idempotency_key:
        earlier = await _earlier_order(command.idempotency_key, request_hash, caller, deps)
        if earlier is not None:
            return earlier
    catalog = await _priced_catalog([line.product_id for line in lines], caller, deps)
    _raise_for(check_catalog(command.lines, catalog))
    if deps.stock_precheck:
        await _precheck_stock(lines, caller, deps)
    order = await _write(command, lines, catalog, request_hash, caller, deps)
    log.info("order placed", extra={"order_id": order.order_id, "lines": len(lines)})
    return order


def _validated_lines(command: PlaceOrder) -> list[RequestedLine]:
    problems = check_lines(command.lines)
    if not command.customer_id.strip():
        problems.insert(0, FieldViolation("customer_id", "must not be empty"))
    if len(command.idempotency_key) > MAX_IDEMPOTENCY_KEY:
        problems.append(FieldViolation("idempotency-key", f"at most {MAX_IDEMPOTENCY_KEY} characters"))
    _raise_for(problems)
    merged = merge_lines(command.lines)
    _raise_for(check_merged(merged))
    return merged


def _raise_for(problems: list[FieldViolation]) -> None:
    if problems:
        shown = summarized(problems)
        message = None if shown is problems else f"{len(problems)} problems with the order, the first listed"
        raise InvalidArgument(shown, message)


def _request_hash(customer_id: str, lines: Sequence[RequestedLine], payment_method: str = "") -> str:
    request: list[object] = [customer_id, sorted((line.product_id, line.quantity) for line in lines)]
    if payment_method:  # only then: the keys stored before payment methods existed still match
        request.append(payment_method)
    canonical = json.dumps(request)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _earlier_order(key: str, request_hash: str, caller: Caller, deps: Dependencies) -> Order | None:
    async with deps.uow() as uow:
        earlier = await uow.idempotency.find(caller.principal_id, key)
        if earlier is None:
            return None
        if earlier[0] != request_hash:
            raise _key_reused()
        return await uow.orders.get(earlier[1])


def _key_reused() -> FailedPrecondition:
    return FailedPrecondition(
        "this idempotency key was already used with a different request",
        reason="IDEMPOTENCY_KEY_REUSED",
    )


async def _priced_catalog(product_ids: list[str], caller: Caller, deps: Dependencies) -> dict[str, CatalogEntry]:
    """Catalog entries for pricing: recent ones from memory, else from inventory, else the replica."""
    known, stale = deps.price_book.lookup(product_ids)
    if not stale:
        return known
    fetched = await deps.inventory.products(stale, metadata=caller.metadata)
    if fetched is None:
        async with deps.uow() as uow:
            replica = await uow.catalog.get_many(stale)
        missing = [p for p in stale if p not in replica]
        if missing:
            raise Unavailable(f"the catalog cannot be reached to price {missing[0]!r}; try again shortly")
        return known | replica
    deps.price_book.remember(fetched.values())
    if fetched:
        async with deps.uow() as uow:
            await uow.catalog.upsert(list(fetched.values()))
            await uow.commit()
    return known | fetched


async def _precheck_stock(lines: list[RequestedLine], caller: Caller, deps: Dependencies) -> None:
    """Fails fast when stock is clearly short; when inventory is away the saga decides."""
    available = await deps.inventory.available([line.product_id for line in lines], metadata=caller.metadata)
    if available is None:
        return
    short = [line for line in lines if available.get(line.product_id, 0) < line.quantity]
    if short:
        raise FailedPrecondition(
            "not enough stock for " + ", ".join(line.product_id for line in short),
            reason="INSUFFICIENT_STOCK",
            violations=[
                PreconditionViolation(
                    "STOCK",
                    f"products/{line.product_id}",
                    f"requested {line.quantity}, available {available.get(line.product_id, 0)}",
                )
                for line in short
            ],
        )


async def _write(
    command: PlaceOrder,
    lines: list[RequestedLine],
    catalog: dict[str, CatalogEntry],
    request_hash: str,
    caller: Caller,
    deps: Dependencies,
) -> Order:
    order = Order.place(
        order_id=str(uuid.uuid4()),
        customer_id=command.customer_id,
        payment_method=command.payment_method,
        currency=catalog[lines[0].product_id].currency,
        lines=[
            OrderLine(
                line.product_id, line.quantity, catalog[line.product_id].name, catalog[line.product_id].price_minor
            )
            for line in lines
        ],
    )
    if not money.fits(order.total_minor):
        # Unreachable with the price and quantity caps; a bigint overflow must never be the check.
        raise InvalidArgument([FieldViolation("items", "the order's total is larger than any amount the shop keeps")])
    async with deps.uow() as uow:
        if command.idempotency_key:
            earlier = await uow.idempotency.claim(
                caller.principal_id, command.idempotency_key, request_hash, order.order_id
            )
            if earlier is not None:
                if earlier[0] != request_hash:
                    raise _key_reused()
                existing = await uow.orders.get(earlier[1])
                if existing is not None:
                    return existing
        if await uow.customers.get(command.customer_id) is None:
            raise InvalidArgument([FieldViolation("customer_id", f"no customer {command.customer_id!r}")])
        await uow.orders.add(order)  # its OrderPlaced goes out with the commit
        await uow.commit()
    deps.metrics.order_placed()
    return order
