"""When to try a failed delivery again, and when to give up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` deliveries in all; the wait after attempt n is base * 2**(n-1), capped.

    Deterministic (no jitter): notifications fail for their own reasons at their own times,
    so there is no thundering herd to spread, and a fixed schedule is easy to reason about.
    """

    max_attempts: int = 6
    base_delay_s: float = 10.0
    max_delay_s: float = 900.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.base_delay_s <= self.max_delay_s:
            raise ValueError("need 0 < base_delay_s <= max_delay_s")

    def delay_after(self, attempts: int) -> timedelta:
        """How long to wait after the ``attempts``-th failed attempt (1-based)."""
        exponent = max(attempts - 1, 0)
        # Cap the exponent first: 2**10000 is a fine int but not a float.
        seconds = self.base_delay_s * 2 ** min(exponent, 62)
        return timedelta(seconds=min(seconds, self.max_delay_s))

    def gives_up_after(self, attempts: int) -> bool:
        return attempts >= self.max_attempts
