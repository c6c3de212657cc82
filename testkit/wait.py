"""Waiting for a condition with a deadline, instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool] = bool,
    timeout_s: float = 20.0,
    interval_s: float = 0.05,
    what: str = "condition",
) -> T:
    """Calls ``probe`` until ``until(result)`` holds; fails with the last result at the deadline."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            last = await probe()
            if until(last):
                return last
        except AssertionError as exc:
            last_error = exc
        await asyncio.sleep(interval_s)
    raise AssertionError(f"{what} not reached within {timeout_s}s; last: {last!r}") from last_error
