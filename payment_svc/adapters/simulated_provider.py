"""A payment provider that behaves like a card processor's test mode, for ``make run`` and tests.

The outcome depends on the payment method's token, like Stripe's test cards:

| token | outcome |
|---|---|
| ``tok_visa``, ``pm_card_visa``, ``tok_mastercard``, ``pm_card_mastercard`` | authorized |
| ``tok_chargeDeclined``, ``pm_card_chargeDeclined`` | declined: card_declined |
| ``tok_insufficient_funds``, ``pm_card_chargeDeclinedInsufficientFunds`` | declined: insufficient_funds |
| ``tok_slow`` | authorized after ``slow_s`` |
| ``tok_timeout`` | authorizes, then raises ProviderOutcomeUnknown (once per key); ``find`` tells the truth |
| anything else | ProviderRejected: no such payment method |

Like a real provider it is idempotent by key: a key it has seen is answered from its ledger,
never authorized again. The ledger is a JSON file when ``ledger_path`` is set — shared by every
process, kept across restarts (the kill -9 tests count the authorizations in it) — or memory.
A file ``<ledger>.down`` beside it makes the provider unavailable while it exists (tests use it
to take the provider down and bring it back).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from payment_svc.service_layer.provider import (
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
)

_APPROVE = frozenset({"tok_visa", "pm_card_visa", "tok_mastercard", "pm_card_mastercard", "tok_slow", "tok_timeout"})
_DECLINES = {
    "tok_chargeDeclined": ("card_declined", "Your card was declined."),
    "pm_card_chargeDeclined": ("card_declined", "Your card was declined."),
    "tok_insufficient_funds": ("insufficient_funds", "Your card has insufficient funds."),
    "pm_card_chargeDeclinedInsufficientFunds": ("insufficient_funds", "Your card has insufficient funds."),
}


@dataclass
class LedgerEntry:
    """What the provider did with one idempotency key."""

    key: str
    order_id: str
    status: str  # "authorized" | "declined"
    provider_ref: str
    amount_minor: int
    currency: str
    decline_code: str = ""
    reason: str = ""
    captured: bool = False
    refunded: bool = False
    # The timeout token's "the answer got lost" happens once per key.
    answer_lost: bool = False

    def authorization(self) -> Authorization:
        return Authorization(
            AuthorizationStatus(self.status),
            self.provider_ref,
            self.amount_minor,
            self.currency,
            self.decline_code,
            self.reason,
        )


class _Ledger:
    """The provider's books: a dict of entries by key, in a locked JSON file or in memory."""

    def __init__(self, path: str) -> None:
        self._path = Path(path) if path else None
        self._memory: dict[str, Any] = {"entries": {}, "operations": []}

    @property
    def down_marker(self) -> Path | None:
        return self._path.with_name(self._path.name + ".down") if self._path else None

    def change(self, body: Callable[[dict[str, Any]], Any]) -> Any:
        """Runs ``body`` on the books under an exclusive lock and keeps what it changed."""
        if self._path is None:
            return body(self._memory)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._path.with_name(self._path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            books = json.loads(self._path.read_text()) if self._path.exists() else {"entries": {}, "operations": []}
            result = body(books)
            tmp = self._path.with_name(f"{self._path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(books))
            tmp.replace(self._path)  # atomic: a reader never sees half a ledger
            return result


class SimulatedProvider:
    """Implements service_layer.provider.PaymentProvider."""

    def __init__(self, ledger_path: str = "", *, slow_s: float = 2.0) -> None:
        self._ledger = _Ledger(ledger_path)
        self._slow_s = slow_s
        self._lock = asyncio.Lock()

    @property
    def name(self) -> str:
        return "simulated"

    async def authorize(self, request: AuthorizeRequest) -> Authorization:
        self._check_up()
        if request.payment_method == "tok_slow":
            await asyncio.sleep(self._slow_s)
        answer: tuple[LedgerEntry, bool] = await self._run(lambda books: _authorize(books, request))
        entry, lose_answer = answer
        if lose_answer:
            raise ProviderOutcomeUnknown("simulated timeout: the provider acted, the answer was lost")
        return entry.authorization()

    async def find(self, idempotency_key: str, order_id: str) -> Authorization | None:
        self._check_up()
        found = await self._run(lambda books: books["entries"].get(idempotency_key))
        return LedgerEntry(**found).authorization() if found else None

    async def capture(self, provider_ref: str, amount_minor: int, idempotency_key: str) -> None:
        self._check_up()
        await self._run(lambda books: _mark(books, provider_ref, "captured", idempotency_key))

    async def refund(self, provider_ref: str, amount_minor: int, idempotency_key: str, *, captured: bool) -> None:
        self._check_up()
        await self._run(lambda books: _mark(books, provider_ref, "refunded", idempotency_key))

    async def _run(self, body: Callable[[dict[str, Any]], Any]) -> Any:
        async with self._lock:
            return await asyncio.to_thread(self._ledger.change, body)

    def _check_up(self) -> None:
        marker = self._ledger.down_marker
        if marker is not None and marker.exists():
            raise ProviderUnavailable("simulated provider is down")


def _authorize(books: dict[str, Any], request: AuthorizeRequest) -> tuple[LedgerEntry, bool]:
    entries = books["entries"]
    if request.idempotency_key in entries:
        return LedgerEntry(**entries[request.idempotency_key]), False
    token = request.payment_method
    if token in _DECLINES:
        code, reason = _DECLINES[token]
        entry = LedgerEntry(
            request.idempotency_key,
            request.order_id,
            "declined",
            "",
            request.amount_minor,
            request.currency,
            code,
            reason,
        )
    elif token in _APPROVE:
        ref = f"pi_sim_{uuid.uuid4().hex[:24]}"
        entry = LedgerEntry(
            request.idempotency_key, request.order_id, "authorized", ref, request.amount_minor, request.currency
        )
    else:
        raise ProviderRejected(f"No such payment method: {token!r}")
    lose = token == "tok_timeout"
    entry.answer_lost = lose
    entries[request.idempotency_key] = asdict(entry)
    books["operations"].append({"op": "authorize", "key": request.idempotency_key, "order_id": request.order_id})
    return entry, lose


def _mark(books: dict[str, Any], provider_ref: str, flag: str, key: str) -> None:
    for entry in books["entries"].values():
        if entry["provider_ref"] == provider_ref and provider_ref:
            if not entry[flag]:  # already done: not an error, and not done twice
                entry[flag] = True
                books["operations"].append({"op": flag, "key": key, "order_id": entry["order_id"]})
            return
    raise ProviderRejected(f"No such payment: {provider_ref!r}")


def read_ledger(path: str) -> dict[str, Any]:
    """The books as the provider keeps them (tests count authorizations in ``operations``)."""
    file = Path(path)
    return json.loads(file.read_text()) if file.exists() else {"entries": {}, "operations": []}
