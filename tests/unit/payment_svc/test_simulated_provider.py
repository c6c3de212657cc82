"""The simulated provider behaves like a processor's test mode: outcomes by token, idempotent by
key, its ledger shared through a file (it outlives payment_svc), and a switch that takes it down."""

from __future__ import annotations

from pathlib import Path

import pytest

from payment_svc.adapters.simulated_provider import SimulatedProvider, read_ledger
from payment_svc.service_layer.provider import (
    AuthorizationStatus,
    AuthorizeRequest,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
)


def request(token: str, key: str = "k-1") -> AuthorizeRequest:
    return AuthorizeRequest(key, "ord-1", "cust-1", 1500, "EUR", token)


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        ("tok_visa", AuthorizationStatus.AUTHORIZED, ""),
        ("pm_card_visa", AuthorizationStatus.AUTHORIZED, ""),
        ("tok_chargeDeclined", AuthorizationStatus.DECLINED, "card_declined"),
        ("tok_insufficient_funds", AuthorizationStatus.DECLINED, "insufficient_funds"),
    ],
)
async def test_outcomes_follow_the_token(token: str, status: AuthorizationStatus, code: str) -> None:
    answer = await SimulatedProvider().authorize(request(token))
    assert (answer.status, answer.decline_code, answer.amount_minor, answer.currency) == (status, code, 1500, "EUR")
    assert bool(answer.provider_ref) is (status is AuthorizationStatus.AUTHORIZED)


async def test_an_unknown_token_is_rejected() -> None:
    with pytest.raises(ProviderRejected, match="No such payment method"):
        await SimulatedProvider().authorize(request("tok_made_up"))


async def test_the_same_key_is_answered_from_the_books_never_authorized_twice(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.json")
    first = await SimulatedProvider(ledger).authorize(request("tok_visa"))
    again = await SimulatedProvider(ledger).authorize(request("tok_visa"))  # another process, same books

    assert first == again
    assert [op["op"] for op in read_ledger(ledger)["operations"]] == ["authorize"]


async def test_timeout_acts_then_loses_the_answer_and_find_tells_the_truth(tmp_path: Path) -> None:
    provider = SimulatedProvider(str(tmp_path / "ledger.json"))
    with pytest.raises(ProviderOutcomeUnknown):
        await provider.authorize(request("tok_timeout"))
    found = await provider.find("k-1", "ord-1")
    assert found is not None and found.status is AuthorizationStatus.AUTHORIZED
    assert await provider.find("k-other", "ord-1") is None


async def test_slow_answers_after_its_delay() -> None:
    answer = await SimulatedProvider(slow_s=0.01).authorize(request("tok_slow"))
    assert answer.status is AuthorizationStatus.AUTHORIZED


async def test_capture_and_refund_happen_once_and_a_down_marker_makes_it_unavailable(tmp_path: Path) -> None:
    ledger = str(tmp_path / "ledger.json")
    provider = SimulatedProvider(ledger)
    ref = (await provider.authorize(request("tok_visa"))).provider_ref
    await provider.capture(ref, 1500, "cap")
    await provider.capture(ref, 1500, "cap")
    await provider.refund(ref, 1500, "ref", captured=True)
    assert [op["op"] for op in read_ledger(ledger)["operations"]] == ["authorize", "captured", "refunded"]

    Path(ledger + ".down").touch()  # noqa: ASYNC240 - a test's setup, nothing else runs
    with pytest.raises(ProviderUnavailable):
        await provider.find("k-1", "ord-1")
