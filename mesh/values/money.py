"""Money as integer minor units (cents) inside the mesh (``google.type.Money`` on the wire: mesh.serving.wire)."""

from __future__ import annotations

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
