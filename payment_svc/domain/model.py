"""The payment of one order: the payment side's own view of the order, and where its money is.

The row is created by whichever of OrderPlaced and InventoryReserved arrives first (they travel
on different topics, so either may); authorization starts when both are known and the order has
a payment method. The amount is the order's total as OrderPlaced stated it, checked against the
sum of its lines, never an amount some other event asks for.

Every provider call is a *step* (authorize, capture, refund) recorded before the call with its
idempotency key, so a crash or an unknown outcome is settled by asking the provider or repeating
under the same key, never by charging again (docs/payment.md, "Exactly one charge").
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mesh.values import money
from payment_svc.domain.events import (
    Event,
    PaymentAuthorized,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
)


class PaymentStatus(enum.Enum):
    AWAITING = "AWAITING"  # the order, its reservation or a payment method is still missing
    AUTHORIZING = "AUTHORIZING"  # step: authorize (sent, or about to be)
    AUTHORIZED = "AUTHORIZED"
    FAILED = "FAILED"  # final
    CAPTURING = "CAPTURING"  # step: capture
    CAPTURED = "CAPTURED"
    REFUNDING = "REFUNDING"  # step: release the hold or refund the capture
    REFUNDED = "REFUNDED"  # final
    CANCELLED = "CANCELLED"  # the order was cancelled before anything was held; final


S = PaymentStatus
# The statuses in which a provider call is owed; the reconciler finds them when they are due.
STEPS = frozenset({S.AUTHORIZING, S.CAPTURING, S.REFUNDING})


class StepKind(enum.Enum):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    REFUND = "refund"


_STEP_OF = {S.AUTHORIZING: StepKind.AUTHORIZE, S.CAPTURING: StepKind.CAPTURE, S.REFUNDING: StepKind.REFUND}


class RefundRefused(Exception):
    """RefundPayment on a payment that holds no money (yet, or any more)."""


@dataclass(frozen=True)
class OrderFacts:
    """What OrderPlaced said about the order, as far as paying for it goes."""

    customer_id: str
    amount_minor: int
    currency: str
    payment_method: str
    # Why the order cannot be charged as stated (total not the sum of its lines…); empty if it can.
    problem: str = ""


def order_facts(
    *, customer_id: str, total_minor: int, currency: str, line_totals_minor: Sequence[int], payment_method: str
) -> OrderFacts:
    """The facts of an OrderPlaced, with the checks that make its total trustworthy."""
    problem = ""
    if sum(line_totals_minor) != total_minor:
        problem = f"the order's total {total_minor} is not the sum of its lines {sum(line_totals_minor)}"
    elif total_minor <= 0 or not money.fits(total_minor):
        problem = f"the order's total {total_minor} cannot be charged"
    elif len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        problem = f"the order's currency {currency!r} is not an ISO 4217 code"
    elif not customer_id:
        problem = "the order names no customer"
    return OrderFacts(customer_id, total_minor, currency, payment_method.strip(), problem)


@dataclass(frozen=True)
class Step:
    """One provider call owed: what to call, under which idempotency key."""

    kind: StepKind
    order_id: str
    idempotency_key: str
    # The key was sent before (a redelivery, a retry, a crash): ask the provider what it did first.
    sent_before: bool


@dataclass
class Payment:
    order_id: str
    status: PaymentStatus = PaymentStatus.AWAITING
    order: OrderFacts | None = None
    reserved: bool = False
    # The order was cancelled or shipped while a step was under way: do it once that one settles.
    cancel_wanted: bool = False
    ship_wanted: bool = False
    attempt: int = 0
    provider: str = ""
    provider_ref: str = ""
    decline_code: str = ""
    reason: str = ""
    # True once the money was captured (a refund then refunds the capture, not the hold).
    captured: bool = False
    # Failed tries of the current step, and when it may be tried next (its lease while it runs).
    tries: int = 0
    next_try_at: datetime | None = None
    # Why the last provider call of the current step failed (down, timed out); empty if none did.
    last_error: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    # -- what the order side told us -------------------------------------------------------

    @property
    def customer_id(self) -> str:
        return self.order.customer_id if self.order else ""

    @property
    def amount_minor(self) -> int:
        return self.order.amount_minor if self.order else 0

    @property
    def currency(self) -> str:
        return self.order.currency if self.order else ""

    def order_placed(self, facts: OrderFacts) -> None:
        if self.order is None:  # the first OrderPlaced is the order; a replay states the same
            self.order = facts

    def inventory_reserved(self) -> None:
        self.reserved = True

    def order_cancelled(self, reason: str) -> None:
        if self.status is S.AWAITING:
            self._become(S.CANCELLED)
            self.reason = reason
        elif self.status in (S.AUTHORIZING, S.CAPTURING):
            self.cancel_wanted = True
            self.reason = reason
        elif self.status in (S.AUTHORIZED, S.CAPTURED):
            self._start_refund(reason)

    def order_shipped(self) -> None:
        if self.status is S.AUTHORIZED:
            self._become(S.CAPTURING)
        elif self.status is S.AUTHORIZING:
            self.ship_wanted = True

    def request_refund(self, reason: str) -> bool:
        """An operator's refund. False when it is refunding or refunded already (nothing to do)."""
        if self.status in (S.REFUNDING, S.REFUNDED):
            return False
        if self.status not in (S.AUTHORIZED, S.CAPTURED):
            raise RefundRefused(f"a payment that is {self.status.value} holds no money to refund")
        self._start_refund(reason or "refunded by an operator")
        return True

    # -- authorization ---------------------------------------------------------------------

    @property
    def waits_for(self) -> str:
        """What the payment still waits for before it can authorize; empty once it can."""
        if self.order is None:
            return "the order"
        if not self.reserved:
            return "the stock reservation"
        if not self.order.payment_method:
            return "a payment method"
        return ""

    def start_if_ready(self, now: datetime, lease: timedelta) -> bool:
        """Starts authorizing once everything is known. True when a step was started."""
        if self.status is not S.AWAITING or self.waits_for:
            return False
        assert self.order is not None
        if self.order.problem:
            self._fail("order_invalid", self.order.problem)
            return False
        self.attempt += 1
        self._become(S.AUTHORIZING)
        self._claim(now, lease)
        return True

    @property
    def authorize_key(self) -> str:
        """The idempotency key of this attempt: the same attempt always sends the same key."""
        return f"oms-{self.order_id}-authorize-{self.attempt}"

    def authorized(self, provider: str, provider_ref: str, amount_minor: int, currency: str) -> None:
        if (amount_minor, currency) != (self.amount_minor, self.currency):
            # Never expected; a provider that held another amount must not count as paid.
            self._fail("amount_mismatch", f"the provider held {amount_minor} {currency}, not the order's total")
            return
        self.provider, self.provider_ref = provider, provider_ref
        self._become(S.AUTHORIZED)
        self.events.append(
            PaymentAuthorized(self.order_id, self.customer_id, self.amount_minor, self.currency, provider, provider_ref)
        )
        if self.cancel_wanted:
            self._start_refund(self.reason)
        elif self.ship_wanted:
            self._become(S.CAPTURING)

    def declined(self, decline_code: str, reason: str) -> None:
        self._fail(decline_code, reason)

    # -- capture and refund ----------------------------------------------------------------

    @property
    def capture_key(self) -> str:
        return f"oms-{self.order_id}-capture"

    @property
    def refund_key(self) -> str:
        return f"oms-{self.order_id}-refund"

    def capture_done(self) -> None:
        self.captured = True
        self._become(S.CAPTURED)
        self.events.append(
            PaymentCaptured(self.order_id, self.customer_id, self.amount_minor, self.currency, self.provider_ref)
        )
        if self.cancel_wanted:
            self._start_refund(self.reason)

    def refund_done(self) -> None:
        self._become(S.REFUNDED)
        self.events.append(
            PaymentRefunded(
                self.order_id, self.customer_id, self.amount_minor, self.currency, self.reason, self.captured
            )
        )

    # -- steps -----------------------------------------------------------------------------

    def step(self) -> Step | None:
        kind = _STEP_OF.get(self.status)
        if kind is None:
            return None
        key = {StepKind.AUTHORIZE: self.authorize_key, StepKind.CAPTURE: self.capture_key}.get(kind, self.refund_key)
        return Step(kind, self.order_id, key, sent_before=self.tries > 0)

    def is_owed(self, step: Step) -> bool:
        """Whether ``step`` is still the one this payment owes (else someone settled it meanwhile)."""
        current = self.step()
        return current is not None and (current.kind, current.idempotency_key) == (step.kind, step.idempotency_key)

    def claim(self, now: datetime, lease: timedelta) -> None:
        self._claim(now, lease)

    def retry_later(self, now: datetime, delay: timedelta, problem: str) -> None:
        self.tries += 1
        self.next_try_at = now + delay
        self.last_error = problem

    def is_due(self, now: datetime) -> bool:
        return self.status in STEPS and (self.next_try_at is None or self.next_try_at <= now)

    def _claim(self, now: datetime, lease: timedelta) -> None:
        self.next_try_at = now + lease

    def _start_refund(self, reason: str) -> None:
        self.reason = reason
        self._become(S.REFUNDING)

    def _fail(self, decline_code: str, reason: str) -> None:
        self._become(S.FAILED)
        self.decline_code, self.reason = decline_code, reason
        self.events.append(
            PaymentFailed(self.order_id, self.customer_id, self.amount_minor, self.currency, reason, decline_code)
        )

    def _become(self, status: PaymentStatus) -> None:
        if status is not self.status:
            self.status = status
            self.tries = 0
            self.next_try_at = None
            self.last_error = ""


def backoff(tries: int, base_s: float, max_s: float) -> timedelta:
    """Delay before the ``tries``-th retry of a step: base, doubling, capped."""
    return timedelta(seconds=min(max_s, base_s * 2 ** max(0, tries - 1)))
