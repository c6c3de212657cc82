"""Reservation use cases driven by order events: reserve, release, ship.

Each runs in one transaction that first claims the event in the inbox, so a redelivered
event changes nothing. Stock rows are always touched in product_id order (no deadlocks).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from inventory_svc.domain.events import (
    Event,
    InventoryReleased,
    InventoryReserved,
    StockChangeCause,
    StockLevelChanged,
    StockReservationFailed,
)
from inventory_svc.domain.model import Line, Reservation, ReservationStatus, Shortfall, StockLevel
from inventory_svc.domain.reservation import UnreservableOrder, describe_failure, normalize_lines, shortfalls
from inventory_svc.service_layer.caching import evict_after_commit
from inventory_svc.service_layer.ports import Dependencies, UnitOfWork

log = logging.getLogger(__name__)

_StockChange = Callable[[str, int], Awaitable[StockLevel | None]]

# A line may fail and then have stock again by the time the refusal is written (stock added
# in between); trying again a few times beats refusing an order that could be served.
ATTEMPTS = 3


class Outcome(enum.Enum):
    RESERVED = "reserved"
    FAILED = "failed"
    RELEASED = "released"
    SHIPPED = "shipped"
    # Redelivered event, repeated order, or nothing to do.
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ReserveOrder:
    event_id: str
    order_id: str
    lines: list[Line]


@dataclass(frozen=True)
class ReleaseOrder:
    event_id: str
    order_id: str
    reason: str = ""


@dataclass(frozen=True)
class ShipOrder:
    event_id: str
    order_id: str


class InconsistentStock(RuntimeError):
    """A reservation's stock row is missing or short: a bug or a manual change, not a retry."""


async def reserve_order(cmd: ReserveOrder, deps: Dependencies) -> Outcome:
    """Reserves every line or none; a refusal is published with each product's shortfall."""
    uow = deps.uow()
    try:
        lines = normalize_lines(cmd.lines)
    except UnreservableOrder as exc:
        return await _refuse(cmd, uow, str(exc), [])
    for attempt in range(1, ATTEMPTS + 1):
        async with uow:
            if not await uow.claim(cmd.event_id) or await uow.reservations.outcome_recorded(cmd.order_id):
                await uow.commit()
                return Outcome.UNCHANGED
            levels = await _reserve_all(uow, lines)
            if levels is not None:
                await uow.reservations.add(Reservation(cmd.order_id, lines))
                uow.publish(
                    InventoryReserved(cmd.order_id, tuple(lines)),
                    *(StockLevelChanged(level, StockChangeCause.RESERVED, cmd.order_id) for level in levels),
                )
                evict_after_commit(uow, deps.catalog_cache, [line.product_id for line in lines])
                await uow.commit()
                log.info("stock reserved", extra={"order_id": cmd.order_id, "lines": len(lines)})
                return Outcome.RESERVED
        # Leaving the block rolled back every line reserved before the one that failed.
        async with uow:
            available = await uow.stock.availability([line.product_id for line in lines])
        short = shortfalls(lines, available)
        if short or attempt == ATTEMPTS:
            return await _refuse(cmd, uow, describe_failure(short), short)
    raise AssertionError("unreachable")


async def _reserve_all(uow: UnitOfWork, lines: list[Line]) -> list[StockLevel] | None:
    levels = []
    for line in lines:
        level = await uow.stock.try_reserve(line.product_id, line.quantity)
        if level is None:
            return None
        levels.append(level)
    return levels


async def _refuse(cmd: ReserveOrder, uow: UnitOfWork, reason: str, short: list[Shortfall]) -> Outcome:
    async with uow:
        if not await uow.claim(cmd.event_id) or await uow.reservations.outcome_recorded(cmd.order_id):
            await uow.commit()
            return Outcome.UNCHANGED
        await uow.reservations.add_failure(cmd.order_id, reason, short)
        uow.publish(StockReservationFailed(cmd.order_id, reason, tuple(short)))
        await uow.commit()
    log.info("reservation refused", extra={"order_id": cmd.order_id, "reason": reason})
    return Outcome.FAILED


async def release_order(cmd: ReleaseOrder, deps: Dependencies) -> Outcome:
    """Gives back what an open reservation holds.

    With no reservation at all (the order was cancelled before its OrderPlaced was handled, e.g.
    while that sat in a dead-letter topic), a released reservation of no lines is kept as the
    order's tombstone: a later or replayed OrderPlaced finds the outcome recorded and reserves
    nothing.
    """
    reason = cmd.reason or "order cancelled"
    return await _close(
        cmd.event_id,
        cmd.order_id,
        deps,
        ReservationStatus.RELEASED,
        announce=lambda reservation: [InventoryReleased(cmd.order_id, tuple(reservation.lines), reason)],
    )


async def ship_order(cmd: ShipOrder, deps: Dependencies) -> Outcome:
    """Reserved units leave the warehouse: quantity and reserved both drop."""
    return await _close(cmd.event_id, cmd.order_id, deps, ReservationStatus.SHIPPED)


def _no_announcement(reservation: Reservation) -> list[Event]:
    return []


async def _close(
    event_id: str,
    order_id: str,
    deps: Dependencies,
    to: ReservationStatus,
    *,
    announce: Callable[[Reservation], list[Event]] = _no_announcement,
) -> Outcome:
    """Closes the order's open reservation (released or shipped) and moves its stock, once per event."""
    async with deps.uow() as uow:
        if not await uow.claim(event_id):
            return Outcome.UNCHANGED
        reservation = await uow.reservations.get_for_update(order_id)
        if reservation is None and to is ReservationStatus.RELEASED:
            # The tombstone: see release_order.
            await uow.reservations.add(Reservation(order_id, [], ReservationStatus.RELEASED))
            await uow.commit()
            return Outcome.UNCHANGED
        if reservation is None or not reservation.is_open:
            await uow.commit()
            return Outcome.UNCHANGED
        if to is ReservationStatus.RELEASED:
            reservation.release()
            change, cause, outcome = uow.stock.release, StockChangeCause.RELEASED, Outcome.RELEASED
        else:
            reservation.ship()
            change, cause, outcome = uow.stock.ship, StockChangeCause.SHIPPED, Outcome.SHIPPED
        levels = [await _apply(change, line) for line in reservation.lines]
        await uow.reservations.save_status(reservation)
        uow.publish(*announce(reservation), *(StockLevelChanged(level, cause, order_id) for level in levels))
        evict_after_commit(uow, deps.catalog_cache, [line.product_id for line in reservation.lines])
        await uow.commit()
    return outcome


async def _apply(change: _StockChange, line: Line) -> StockLevel:
    level = await change(line.product_id, line.quantity)
    if level is None:
        raise InconsistentStock(f"stock of {line.product_id!r} cannot take back {line.quantity} reserved units")
    return level
