"""A small circuit breaker for synchronous calls to another service.

Closed: calls go through; ``failure_threshold`` failures in a row open it. Open: calls are
refused at once for ``reset_after_s``. Then one trial call is let through (half-open): success
closes it, failure opens it again. Refusing fast is the point: a caller with a fallback (the
order pre-check) must not wait on a service that is known to be away.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class CircuitOpen(Exception):
    """The breaker refused the call without trying it."""


class CircuitBreaker:
    def __init__(
        self, *, failure_threshold: int = 5, reset_after_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failure_threshold
        self._reset_after = reset_after_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset_after:
            return "half-open"
        return "open"

    async def call(self, action: Callable[[], Awaitable[T]]) -> T:
        state = self.state
        if state == "open" or (state == "half-open" and self._trial_running):
            raise CircuitOpen("circuit open")
        self._trial_running = state == "half-open"
        try:
            result = await action()
        except Exception:
            self._record_failure()
            raise
        finally:
            self._trial_running = False
        self._failures = 0
        self._opened_at = None
        return result

    def _record_failure(self) -> None:
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock()
