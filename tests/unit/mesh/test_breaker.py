from __future__ import annotations

import pytest

from mesh.resilience.breaker import CircuitBreaker, CircuitOpen


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def fail() -> None:
    raise ConnectionError("down")


async def succeed() -> str:
    return "ok"


async def test_opens_after_threshold_refuses_fast_then_half_opens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=5, clock=clock)
    for _ in range(3):
        with pytest.raises(ConnectionError):
            await breaker.call(fail)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        await breaker.call(succeed)
    clock.now = 5.0
    assert breaker.state == "half-open"
    assert await breaker.call(succeed) == "ok"
    assert breaker.state == "closed"


async def test_a_failed_trial_opens_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=1, clock=clock)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    clock.now = 1.0
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    assert breaker.state == "open"


async def test_success_resets_the_failure_count() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=1, clock=Clock())
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    await breaker.call(succeed)
    with pytest.raises(ConnectionError):
        await breaker.call(fail)
    assert breaker.state == "closed"
