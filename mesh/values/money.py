"""Money as integer minor units (cents) inside the mesh, ``google.type.Money`` on the wire."""

from __future__ import annotations

from google.type import money_pb2

MINOR_PER_UNIT = 100
NANOS_PER_MINOR = 10_000_000
# Amounts are stored as PostgreSQL bigints of minor units: nothing may exceed this.
MAX_MINOR = 2**63 - 1
# The dearest unit price the catalog accepts, in minor units. With at most 1000 units a line and
# 100 lines an order, an order's total stays far below MAX_MINOR (10**13 * 1000 * 100 = 10**18).
MAX_UNIT_PRICE_MINOR = 10**13


def fits(minor: int) -> bool:
    """Whether an amount can be stored (bigint) and sent (``google.type.Money`` int64 units)."""
    return -MAX_MINOR <= minor <= MAX_MINOR


def to_proto(minor: int, currency: str) -> money_pb2.Money:
    units, rest = divmod(minor, MINOR_PER_UNIT)
    return money_pb2.Money(currency_code=currency, units=units, nanos=rest * NANOS_PER_MINOR)


def from_proto(money: money_pb2.Money) -> int:
    """Minor units of ``money``; raises ValueError when it has sub-cent precision or mixed signs."""
    if money.nanos % NANOS_PER_MINOR:
        raise ValueError("more precision than one cent")
    if (money.units > 0 and money.nanos < 0) or (money.units < 0 and money.nanos > 0):
        raise ValueError("units and nanos must have the same sign")
    return int(money.units * MINOR_PER_UNIT + money.nanos // NANOS_PER_MINOR)
