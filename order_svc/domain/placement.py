"""Rules for a new order's lines: bounds, merging, and pricing from the catalog."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mesh.values.violations import FieldViolation

MAX_LINES = 100
MIN_QUANTITY = 1
MAX_QUANTITY = 1000
# Problems reported per refused order; a count stands for the rest (100 lines x 100 problems
# would not fit gRPC's 8 KiB trailers).
MAX_REPORTED = 10
# The dearest unit price an order accepts (minor units; mesh.values.money.MAX_UNIT_PRICE_MINOR, kept
# equal by a test): 10**13 x 1000 units x 100 lines = 10**18 keeps every total in a bigint.
MAX_UNIT_PRICE_MINOR = 10**13


@dataclass(frozen=True)
class RequestedLine:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class CatalogEntry:
    product_id: str
    name: str
    price_minor: int
    currency: str
    active: bool


def summarized(problems: list[FieldViolation], *, at_most: int = MAX_REPORTED) -> list[FieldViolation]:
    """The first ``at_most`` problems and a count of the rest: an error must fit the trailers."""
    if len(problems) <= at_most:
        return problems
    rest = len(problems) - at_most
    return [*problems[:at_most], FieldViolation("items", f"{rest} more problems with the items not listed")]


def check_lines(lines: list[RequestedLine]) -> list[FieldViolation]:
    problems = []
    if not lines:
        problems.append(FieldViolation("items", "an order needs at least one item"))
    if len(lines) > MAX_LINES:
        problems.append(FieldViolation("items", f"at most {MAX_LINES} items per order, got {len(lines)}"))
    for index, line in enumerate(lines):
        if not line.product_id.strip():
            problems.append(FieldViolation(f"items[{index}].product_id", "must not be empty"))
        if not MIN_QUANTITY <= line.quantity <= MAX_QUANTITY:
            problems.append(
                FieldViolation(
                    f"items[{index}].quantity", f"must be {MIN_QUANTITY}..{MAX_QUANTITY}, got {line.quantity}"
                )
            )
    return problems


def merge_lines(lines: list[RequestedLine]) -> list[RequestedLine]:
    """One line per product, quantities added, in first-seen order."""
    merged: dict[str, int] = {}
    for line in lines:
        merged[line.product_id] = merged.get(line.product_id, 0) + line.quantity
    return [RequestedLine(product_id, quantity) for product_id, quantity in merged.items()]


def check_merged(lines: list[RequestedLine]) -> list[FieldViolation]:
    return [
        FieldViolation("items", f"{line.product_id}: {line.quantity} units in total, at most {MAX_QUANTITY}")
        for line in lines
        if line.quantity > MAX_QUANTITY
    ]


def check_catalog(lines: list[RequestedLine], catalog: Mapping[str, CatalogEntry]) -> list[FieldViolation]:
    """Problems of the request's ``lines`` (as sent, so positions are the caller's) with the catalog.

    A line is named by its position, not by its product id: ids come from the caller and are
    not repeated back.
    """
    problems = []
    currencies = set()
    for index, line in enumerate(lines):
        entry = catalog.get(line.product_id)
        if entry is None:
            problems.append(FieldViolation(f"items[{index}].product_id", "no such product"))
        elif not entry.active:
            problems.append(FieldViolation(f"items[{index}].product_id", "is not for sale"))
        elif not 0 <= entry.price_minor <= MAX_UNIT_PRICE_MINOR:
            # Only a catalog entry from before the catalog's price cap can be this dear.
            problems.append(FieldViolation(f"items[{index}].product_id", "is priced beyond what an order can total"))
        else:
            currencies.add(entry.currency)
    if len(currencies) > 1:
        problems.append(FieldViolation("items", f"products are priced in different currencies: {sorted(currencies)}"))
    return problems
