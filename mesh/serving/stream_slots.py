"""Bounds on long-lived streams: at most so many open in this process and per caller, and an end.

A stream holds memory, a task and (at the gateway) an upstream call for as long as the client
likes, so without a cap one caller could open enough of them to starve everyone else. Slots are
counted in memory per process: each instance of a service enforces its own caps. A stream also
ends at a maximum lifetime, or earlier when the caller's token expires (``stream_end``).
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from mesh.serving.errors import QuotaViolation, ResourceExhausted

# Streams end at their lifetime or when their order is final, so a slot frees up within minutes.
DEFAULT_RETRY_AFTER_S = 5.0


class StreamSlots:
    """Hands out stream slots; beyond a cap ``claim`` raises ``ResourceExhausted`` (QuotaFailure)."""

    def __init__(
        self,
        *,
        max_total: int,
        max_per_key: int,
        what: str,
        retry_after_s: float = DEFAULT_RETRY_AFTER_S,
        reason: str = "TOO_MANY_STREAMS",
    ) -> None:
        self._max_total = max_total
        self._max_per_key = max_per_key
        self._what = what
        self._retry_after_s = retry_after_s
        self._reason = reason
        self._open: Counter[str] = Counter()
        self._total = 0

    @property
    def total(self) -> int:
        return self._total

    def open_for(self, key: str) -> int:
        return self._open[key]

    @contextlib.contextmanager
    def claim(self, key: str | None) -> Iterator[None]:
        """Holds one slot for the body of the ``with``; ``key`` None counts towards the process cap only."""
        self._check(key)
        self._total += 1
        if key is not None:
            self._open[key] += 1
        try:
            yield
        finally:
            self._total -= 1
            if key is not None:
                self._open[key] -= 1
                if self._open[key] <= 0:
                    del self._open[key]

    def _check(self, key: str | None) -> None:
        # The key is the caller's own id, but it may be long: the message never repeats it.
        if key is not None and self._open[key] >= self._max_per_key:
            self._refuse(
                f"too many open {self._what} for this caller (at most {self._max_per_key})",
                QuotaViolation("caller", f"at most {self._max_per_key} open {self._what} per caller"),
            )
        if self._total >= self._max_total:
            self._refuse(
                f"too many open {self._what} on this server (at most {self._max_total})",
                QuotaViolation("process", f"at most {self._max_total} open {self._what} per process"),
            )

    def _refuse(self, message: str, violation: QuotaViolation) -> None:
        raise ResourceExhausted(
            message + "; retry later",
            violations=[violation],
            retry_after_s=self._retry_after_s,
            reason=self._reason,
        )


@dataclass(frozen=True)
class StreamEnd:
    """When a stream must end (on the event loop's clock) and whether the token is the reason."""

    at: float
    token_expired: bool


def stream_end(*, loop_now: float, wall_now: float, lifetime_s: float, token_expires_at: float | None) -> StreamEnd:
    """The earlier of the stream's maximum lifetime and its token's expiry (a Unix time)."""
    by_lifetime = loop_now + lifetime_s
    if token_expires_at is None:
        return StreamEnd(by_lifetime, token_expired=False)
    by_token = loop_now + (token_expires_at - wall_now)
    if by_token <= by_lifetime:
        return StreamEnd(by_token, token_expired=True)
    return StreamEnd(by_lifetime, token_expired=False)
