"""The backoff schedule: doubling from the base, capped, and when to give up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from notify_svc.domain.retry_policy import RetryPolicy


def test_the_delay_doubles_after_each_failed_attempt_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=8, base_delay_s=10, max_delay_s=300)
    schedule = [policy.delay_after(n).total_seconds() for n in range(1, 9)]
    assert schedule == [10, 20, 40, 80, 160, 300, 300, 300]


def test_huge_attempt_counts_do_not_overflow() -> None:
    assert RetryPolicy(max_attempts=5).delay_after(10_000) == timedelta(seconds=900)


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.gives_up_after(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


@pytest.mark.parametrize(("attempts", "base", "cap"), [(0, 1, 1), (3, 0, 1), (3, 5, 1)])
def test_nonsense_policies_are_refused(attempts: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=attempts, base_delay_s=base, max_delay_s=cap)
