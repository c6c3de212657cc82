"""Rules of reserving an order's lines: all or nothing, in one fixed order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from inventory_svc.domain.model import Line, Shortfall

MAX_LINES = 500


class UnreservableOrder(ValueError):
    """The order's lines are malformed; no stock could ever satisfy it."""


def normalize_lines(lines: Iterable[Line]) -> list[Line]:
    """Merges repeated products and sorts by product_id.

    Every reservation touches stock rows in this one order, so two concurrent reservations
    can never wait on each other's rows in opposite orders (no deadlocks).
    """
    totals: dict[str, int] = {}
    for line in lines:
        if not line.product_id:
            raise UnreservableOrder("a line names no product")
        if line.quantity <= 0:
            raise UnreservableOrder(f"line {line.product_id} asks for {line.quantity} units")
        totals[line.product_id] = totals.get(line.product_id, 0) + line.quantity
    if not totals:
        raise UnreservableOrder("the order has no lines")
    if len(totals) > MAX_LINES:
        raise UnreservableOrder(f"the order has more than {MAX_LINES} products")
    return [Line(product_id, totals[product_id]) for product_id in sorted(totals)]


def shortfalls(lines: Iterable[Line], available: Mapping[str, int]) -> list[Shortfall]:
    """Each line that asks for more than is available; a product missing from ``available``
    (unknown or inactive) counts as 0 available."""
    short = []
    for line in lines:
        have = max(available.get(line.product_id, 0), 0)
        if line.quantity > have:
            short.append(Shortfall(line.product_id, line.quantity, have))
    return short


def describe_failure(short: Iterable[Shortfall]) -> str:
    parts = [f"{s.product_id}: requested {s.requested}, available {s.available}" for s in short]
    return "insufficient stock (" + "; ".join(parts) + ")" if parts else "insufficient stock"
