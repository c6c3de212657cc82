"""Stock use cases: read, check, receive and audit."""

from __future__ import annotations

import logging

from inventory_svc.adapters.catalog_cache import CatalogCache
from inventory_svc.domain.events import StockChangeCause, StockLevelChanged
from inventory_svc.domain.model import MAX_STOCK, StockLevel, audit_allowed, can_add
from inventory_svc.domain.validation import Violations, check_not_negative, check_units
from inventory_svc.service_layer.caching import evict_after_commit
from inventory_svc.service_layer.errors import product_not_found, raise_if_invalid, require_id
from inventory_svc.service_layer.unit_of_work import InventoryUnitOfWork
from mesh.serving.errors import Aborted, FailedPrecondition, InvalidArgument, MeshError, PreconditionViolation
from mesh.values.violations import FieldViolation

log = logging.getLogger(__name__)

MAX_CHECK_IDS = 500


async def get_stock(product_id: str, uow: InventoryUnitOfWork, cache: CatalogCache) -> StockLevel:
    require_id(product_id)
    slot = await cache.stock_slot(product_id)
    if slot is not None and (cached := await cache.get_stock(slot)) is not None:
        return cached
    async with uow:
        level = await uow.stock.get(product_id)
    if level is None:
        raise product_not_found(product_id)
    if slot is not None:
        await cache.put_stock(slot, level)
    return level


async def check_stock(product_ids: list[str], uow: InventoryUnitOfWork) -> tuple[dict[str, int], list[str]]:
    """Available units of known products, and the ids that name no product (never reported as 0)."""
    if not product_ids:
        raise InvalidArgument([FieldViolation("product_ids", "must name at least one product")])
    if len(product_ids) > MAX_CHECK_IDS:
        raise InvalidArgument([FieldViolation("product_ids", f"must name at most {MAX_CHECK_IDS} products")])
    wanted = list(dict.fromkeys(product_ids))
    async with uow:
        available = await uow.stock.availability(wanted)
    return available, [product_id for product_id in wanted if product_id not in available]


async def add_stock(
    product_id: str, quantity: int, uow: InventoryUnitOfWork, cache: CatalogCache, *, reason: str = ""
) -> StockLevel:
    out = Violations()
    if not product_id:
        out.add("product_id", "must not be empty")
    check_units(quantity, "quantity", out, positive=True)
    raise_if_invalid(out)
    async with uow:
        level = await uow.stock.add(product_id, quantity)
        if level is None:
            # The conditional update decided; this read only explains why it refused.
            raise _add_refusal(product_id, quantity, await uow.stock.get(product_id))
        uow.publish(StockLevelChanged(level, StockChangeCause.ADDED))
        evict_after_commit(uow, cache, [product_id])
        await uow.commit()
    # The event has no reason field; the log keeps the admin's note with the new version.
    log.info(
        "stock added", extra={"product_id": product_id, "units": quantity, "version": level.version, "reason": reason}
    )
    return level


async def audit_stock(
    product_id: str,
    counted: int,
    expected_version: int,
    uow: InventoryUnitOfWork,
    cache: CatalogCache,
    *,
    reason: str = "",
) -> StockLevel:
    """Sets the physical count when the caller saw the current version (optimistic concurrency)."""
    out = Violations()
    if not product_id:
        out.add("product_id", "must not be empty")
    check_units(counted, "quantity", out, positive=False)
    check_not_negative(expected_version, "expected_version", out)
    raise_if_invalid(out)
    async with uow:
        level = await uow.stock.audit(product_id, counted, expected_version)
        if level is None:
            # The conditional update decided; this read only explains why it refused.
            raise _refusal(product_id, counted, expected_version, await uow.stock.get(product_id))
        uow.publish(StockLevelChanged(level, StockChangeCause.AUDITED))
        evict_after_commit(uow, cache, [product_id])
        await uow.commit()
    log.info(
        "stock audited",
        extra={"product_id": product_id, "quantity": counted, "version": level.version, "reason": reason},
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
