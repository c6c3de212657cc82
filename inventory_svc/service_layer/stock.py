"""Stock use cases: read, check, receive and audit."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from inventory_svc.domain.events import StockChangeCause, StockLevelChanged
from inventory_svc.domain.model import MAX_STOCK, StockLevel, audit_allowed, can_add
from inventory_svc.domain.validation import Violations, check_not_negative, check_units
from inventory_svc.service_layer.caching import evict_after_commit, read_through
from inventory_svc.service_layer.errors import product_not_found, raise_if_invalid
from inventory_svc.service_layer.ports import Dependencies, UnitOfWork
from mesh.serving.errors import Aborted, FailedPrecondition, InvalidArgument, MeshError, PreconditionViolation
from mesh.values.violations import FieldViolation

log = logging.getLogger(__name__)

MAX_CHECK_IDS = 500


@dataclass(frozen=True)
class GetStock:
    product_id: str


@dataclass(frozen=True)
class CheckStock:
    product_ids: list[str]


@dataclass(frozen=True)
class StockCheck:
    """Available units of known products, and the ids that name no product (never reported as 0)."""

    available: dict[str, int]
    unknown_product_ids: list[str]


@dataclass(frozen=True)
class AddStock:
    product_id: str
    quantity: int
    # The admin's note: not in the event, kept in the log with the new version.
    reason: str = ""


@dataclass(frozen=True)
class AuditStock:
    """A physical count, applied only if the caller saw the current version."""

    product_id: str
    counted: int
    expected_version: int
    reason: str = ""


async def _stock_of(uow: UnitOfWork, product_id: str) -> StockLevel | None:
    return await uow.stock.get(product_id)


async def get_stock(cmd: GetStock, deps: Dependencies) -> StockLevel:
    cache = deps.catalog_cache
    return await read_through(
        cmd.product_id, deps, slot_of=cache.stock_slot, cached=cache.get_stock, store=cache.put_stock, load=_stock_of
    )


async def check_stock(cmd: CheckStock, deps: Dependencies) -> StockCheck:
    if not cmd.product_ids:
        raise InvalidArgument([FieldViolation("product_ids", "must name at least one product")])
    if len(cmd.product_ids) > MAX_CHECK_IDS:
        raise InvalidArgument([FieldViolation("product_ids", f"must name at most {MAX_CHECK_IDS} products")])
    wanted = list(dict.fromkeys(cmd.product_ids))
    async with deps.uow() as uow:
        available = await uow.stock.availability(wanted)
    return StockCheck(available, [product_id for product_id in wanted if product_id not in available])


async def add_stock(cmd: AddStock, deps: Dependencies) -> StockLevel:
    out = Violations()
    if not cmd.product_id:
        out.add("product_id", "must not be empty")
    check_units(cmd.quantity, "quantity", out, positive=True)
    raise_if_invalid(out)
    async with deps.uow() as uow:
        level = await uow.stock.add(cmd.product_id, cmd.quantity)
        if level is None:
            # The conditional update decided; this read only explains why it refused.
            raise _add_refusal(cmd.product_id, cmd.quantity, await uow.stock.get(cmd.product_id))
        uow.publish(StockLevelChanged(level, StockChangeCause.ADDED))
        evict_after_commit(uow, deps.catalog_cache, [cmd.product_id])
        await uow.commit()
    # The event has no reason field; the log keeps the admin's note with the new version.
    log.info(
        "stock added",
        extra={"product_id": cmd.product_id, "units": cmd.quantity, "version": level.version, "reason": cmd.reason},
    )
    return level


async def audit_stock(cmd: AuditStock, deps: Dependencies) -> StockLevel:
    """Sets the physical count when the caller saw the current version (optimistic concurrency)."""
    out = Violations()
    if not cmd.product_id:
        out.add("product_id", "must not be empty")
    check_units(cmd.counted, "quantity", out, positive=False)
    check_not_negative(cmd.expected_version, "expected_version", out)
    raise_if_invalid(out)
    async with deps.uow() as uow:
        level = await uow.stock.audit(cmd.product_id, cmd.counted, cmd.expected_version)
        if level is None:
            # The conditional update decided; this read only explains why it refused.
            raise _refusal(cmd.product_id, cmd.counted, cmd.expected_version, await uow.stock.get(cmd.product_id))
        uow.publish(StockLevelChanged(level, StockChangeCause.AUDITED))
        evict_after_commit(uow, deps.catalog_cache, [cmd.product_id])
        await uow.commit()
    log.info(
        "stock audited",
        extra={"product_id": cmd.product_id, "quantity": cmd.counted, "version": level.version, "reason": cmd.reason},
    )
    return level


def _add_refusal(product_id: str, units: int, current: StockLevel | None) -> MeshError:
    if current is None:
        return product_not_found(product_id)
    if not can_add(current, units):
        # Valid in form, impossible in this state (AIP-193): FAILED_PRECONDITION, not INVALID_ARGUMENT.
        return FailedPrecondition(
            f"adding {units} units to the {current.quantity} of {product_id!r} would exceed {MAX_STOCK}",
            reason="STOCK_LIMIT",
            violations=[
                PreconditionViolation(
                    "STOCK_LIMIT",
                    f"products/{product_id}",
                    f"quantity: at most {MAX_STOCK - current.quantity} more units fit (maximum {MAX_STOCK})",
                )
            ],
        )
    return Aborted(f"stock of {product_id!r} changed concurrently; re-read and retry")


def _refusal(product_id: str, counted: int, expected_version: int, current: StockLevel | None) -> MeshError:
    if current is None:
        return product_not_found(product_id)
    if current.version != expected_version:
        return Aborted(
            f"stock of {product_id!r} is at version {current.version}, not {expected_version}; re-read and retry",
            metadata={"product_id": product_id, "current_version": str(current.version)},
        )
    if not audit_allowed(current, counted):
        return FailedPrecondition(
            f"counted {counted} units of {product_id!r} but {current.reserved} are reserved",
            violations=[
                PreconditionViolation(
                    "STOCK", f"products/{product_id}", f"quantity must be at least the {current.reserved} reserved"
                )
            ],
        )
    return Aborted(f"stock of {product_id!r} changed concurrently; re-read and retry")
