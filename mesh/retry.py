"""Exponential backoff with jitter, and which failures are worth retrying."""

from __future__ import annotations

import asyncio
import contextlib
import random

import asyncpg
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout


class Backoff:
    """Delays that double from ``initial_s`` up to ``max_s``, with full jitter."""

    def __init__(self, *, initial_s: float = 0.1, max_s: float = 10.0) -> None:
        self._initial = initial_s
        self._max = max_s
        self.attempts = 0

    def reset(self) -> None:
        self.attempts = 0

    def next_delay(self) -> float:
        ceiling = min(self._max, self._initial * (2**self.attempts))
        self.attempts += 1
        return random.uniform(ceiling / 2, ceiling)

    async def wait(self, stop: asyncio.Event | None = None) -> None:
        delay = self.next_delay()
        if stop is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)


def is_transient(exc: BaseException) -> bool:
    """True for failures of the infrastructure (database down, timeouts), not of the message.

    Transient failures are retried forever without skipping the message; anything else
    counts towards the poison-message limit.
    """
    if isinstance(exc, OperationalError | PoolTimeout | OSError | TimeoutError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, asyncpg.PostgresConnectionError | asyncpg.CannotConnectNowError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        # Serialization failures and deadlocks: retrying the transaction succeeds.
        return getattr(exc, "sqlstate", "") in {"40001", "40P01", "57P01", "57P02", "57P03"}
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_transient(cause)
