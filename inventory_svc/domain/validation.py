"""Input rules of the catalog and stock; violations name the field relative to the checked object."""

from __future__ import annotations

import re
import uuid

from inventory_svc.domain.model import MAX_STOCK, Money, PriceChange
from mesh.values.violations import FieldViolation

PRODUCT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
CURRENCY = re.compile(r"[A-Z]{3}")
MAX_NAME = 200
MAX_DESCRIPTION = 4000
NANOS_PER_CENT = 10_000_000
# Orders multiply prices by up to 1000 units x 100 lines: the cap keeps every total in a bigint
# (mesh.values.money.MAX_UNIT_PRICE_MINOR; a unit test keeps the two equal).
MAX_UNITS = 10**11


class Violations:
    """Collects every problem of one request so the caller sees them all at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def __bool__(self) -> bool:
        return bool(self.items)


def new_product_id() -> str:
    return uuid.uuid4().hex


def check_product_id(product_id: str, field: str, out: Violations) -> None:
    if not PRODUCT_ID.fullmatch(product_id):
        out.add(field, "must match [a-z0-9][a-z0-9-]{0,62}")


def check_name(name: str, field: str, out: Violations) -> None:
    if not name.strip():
        out.add(field, "must not be empty")
    elif len(name) > MAX_NAME:
        out.add(field, f"must be at most {MAX_NAME} characters")


def check_description(description: str, field: str, out: Violations) -> None:
    if len(description) > MAX_DESCRIPTION:
        out.add(field, f"must be at most {MAX_DESCRIPTION} characters")


def parse_price(currency_code: str, units: int, nanos: int, field: str, out: Violations) -> Money | None:
    """A price as Money in cents; None (with violations added) when it is not a valid price."""
    change = parse_price_parts(currency_code, units, nanos, field, out)
    if change is None:
        return None
    assert change.currency is not None and change.units is not None and change.cents is not None
    return Money(change.currency, change.units * 100 + change.cents)


def parse_price_parts(
    currency_code: str | None, units: int | None, nanos: int | None, field: str, out: Violations
) -> PriceChange | None:
    """The parts of a price an update names (None: not named, kept); None when one is invalid."""
    before = len(out.items)
    currency = None if currency_code is None else currency_code.upper()
    if currency is not None and not CURRENCY.fullmatch(currency):
        out.add(f"{field}.currency_code", "must be a three-letter ISO 4217 code")
    if units is not None and units < 0:
        out.add(f"{field}.units", "must not be negative")
    elif units is not None and units >= MAX_UNITS:
        # Below, not at most: with the cents the price stays within MAX_UNITS * 100 minor units.
        out.add(f"{field}.units", f"must be less than {MAX_UNITS}")
    if nanos is not None and (nanos < 0 or nanos >= 1_000_000_000):
        out.add(f"{field}.nanos", "must be within 0..999999999")
    elif nanos is not None and nanos % NANOS_PER_CENT:
        out.add(f"{field}.nanos", "must be a whole number of cents (a multiple of 10000000)")
    if len(out.items) > before:
        return None
    return PriceChange(currency, units, None if nanos is None else nanos // NANOS_PER_CENT)


def check_positive(value: int, field: str, out: Violations) -> None:
    if value <= 0:
        out.add(field, "must be positive")


def check_not_negative(value: int, field: str, out: Violations) -> None:
    if value < 0:
        out.add(field, "must not be negative")


def check_units(value: int, field: str, out: Violations, *, positive: bool) -> None:
    """A number of units: positive (or not negative) and at most MAX_STOCK, whatever the stock."""
    if positive:
        check_positive(value, field, out)
    else:
        check_not_negative(value, field, out)
    if value > MAX_STOCK:
        out.add(field, f"must be at most {MAX_STOCK}")
