"""Provider steps: authorize, capture, refund, each exactly once.

A step is recorded (status and idempotency key) and committed *before* the provider is called;
its outcome is committed, with its event in the outbox, after. Between the two anything may
happen — a timeout, a provider that is down, a kill -9 — and the step stays recorded: whoever
settles it next (the redelivered event, or the reconciler) first asks the provider what it did
with that key (``find``) and only then repeats the call, under the same key. No step is ever
sent under a new key, so no order is charged twice.

An outcome is applied only if the payment still owes that very step: two replicas settling the
same step at once (both calls answered from the provider's idempotency cache) apply it once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from payment_svc.domain.model import Payment, Step, StepKind, backoff
from payment_svc.service_layer.ports import Dependencies
from payment_svc.service_layer.provider import (
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
)

log = logging.getLogger(__name__)

# Where the kill -9 test crashes: the provider acted, its outcome is not committed yet.
AFTER_PROVIDER_CALL = "after_provider_call"
# A settled step may start the next (authorized, then the cancellation's refund): at most this many.
_MAX_STEPS_IN_A_ROW = 3


@dataclass(frozen=True)
class _Retry:
    """The step could not be settled now; try again later."""

    problem: str


@dataclass(frozen=True)
class _Rejected:
    """The provider refused the request itself."""

    reason: str


_Outcome = Authorization | None | _Retry | _Rejected


async def settle(order_id: str, deps: Dependencies, *, ask_first: bool = True) -> None:
    """Settles the step ``order_id``'s payment owes, and the ones that follow it, if any.

    ``ask_first``: the step's key may have reached the provider already (a redelivery, the
    reconciler): ask what it did before sending it. Never raises for the provider's failures:
    they leave the step recorded, due later.
    """
    for _ in range(_MAX_STEPS_IN_A_ROW):
        async with deps.uow() as uow:
            payment = await uow.payments.get(order_id)
        step = payment.step() if payment is not None else None
        if payment is None or step is None:
            return
        outcome = await _call(step, payment, deps, ask_first=ask_first or step.sent_before)
        ask_first = False  # a follow-up step is new
        if isinstance(outcome, _Retry):
            await _retry_later(step, outcome.problem, deps)
            return
        deps.failpoint(AFTER_PROVIDER_CALL)
        if not await _apply(step, outcome, deps):
            return


async def reconcile_due(deps: Dependencies, *, batch: int = 20) -> int:
    """One pass of the reconciler: claims the due steps (replica-safe) and settles each."""
    async with deps.uow() as uow:
        order_ids = await uow.payments.claim_due(deps.clock(), batch, deps.policy.lease)
        await uow.commit()
    for order_id in order_ids:
        await settle(order_id, deps, ask_first=True)
    return len(order_ids)


async def _call(step: Step, payment: Payment, deps: Dependencies, *, ask_first: bool) -> _Outcome:
    started = time.perf_counter()
    try:
        outcome = await asyncio.wait_for(
            _provider_call(step, payment, deps, ask_first), deps.policy.timeout.total_seconds()
        )
    except (ProviderUnavailable, ProviderOutcomeUnknown, TimeoutError) as exc:
        deps.metrics.provider_call(step.kind.value, type(exc).__name__, time.perf_counter() - started)
        log.warning(
            "payment provider call failed; the step stays recorded and is retried under the same key",
            extra={"order_id": step.order_id, "step": step.kind.value, "error": repr(exc)},
        )
        return _Retry(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    except ProviderRejected as exc:
        deps.metrics.provider_call(step.kind.value, "rejected", time.perf_counter() - started)
        return _Rejected(str(exc) or "the payment provider refused the request")
    deps.metrics.provider_call(step.kind.value, "ok", time.perf_counter() - started)
    return outcome


async def _provider_call(step: Step, payment: Payment, deps: Dependencies, ask_first: bool) -> Authorization | None:
    provider = deps.provider
    if step.kind is StepKind.AUTHORIZE:
        assert payment.order is not None
        if ask_first:
            # The key may have reached the provider before: its answer is the truth.
            found = await provider.find(step.idempotency_key, step.order_id)
            if found is not None:
                return found
        request = AuthorizeRequest(
            idempotency_key=step.idempotency_key,
            order_id=payment.order_id,
            customer_id=payment.customer_id,
            amount_minor=payment.amount_minor,
            currency=payment.currency,
            payment_method=payment.order.payment_method,
        )
        return await provider.authorize(request)
    if step.kind is StepKind.CAPTURE:
        await provider.capture(payment.provider_ref, payment.amount_minor, step.idempotency_key)
    else:
        await provider.refund(
            payment.provider_ref, payment.amount_minor, step.idempotency_key, captured=payment.captured
        )
    return None


async def _apply(step: Step, outcome: Authorization | _Rejected | None, deps: Dependencies) -> bool:
    """Commits the outcome with its event. True when a next step was started (settle it too)."""
    async with deps.uow() as uow:
        payment = await uow.payments.get(step.order_id, for_update=True)
        if payment is None or not payment.is_owed(step):
            return False  # someone else settled it meanwhile
        if isinstance(outcome, _Rejected):
            _rejected(payment, step, outcome.reason, deps)
        elif step.kind is StepKind.AUTHORIZE:
            assert outcome is not None
            if outcome.status is AuthorizationStatus.AUTHORIZED:
                payment.authorized(deps.provider.name, outcome.provider_ref, outcome.amount_minor, outcome.currency)
            else:
                payment.declined(outcome.decline_code or "declined", outcome.reason or "the card was declined")
        elif step.kind is StepKind.CAPTURE:
            payment.capture_done()
        else:
            payment.refund_done()
        follow_up = payment.step()
        if follow_up is not None:
            payment.claim(deps.clock(), deps.policy.lease)
        await uow.payments.save(payment)
        deps.metrics.payment_status(payment.status.value, payment.amount_minor, payment.currency)
        await uow.commit()
    return follow_up is not None


def _rejected(payment: Payment, step: Step, reason: str, deps: Dependencies) -> None:
    if step.kind is StepKind.AUTHORIZE:
        payment.declined("rejected", reason)
    else:
        # A capture or refund the provider refuses needs an operator; keep it owed and visible.
        log.error(
            "payment provider refused a %s; retrying slowly, an operator should look",
            step.kind.value,
            extra={"order_id": payment.order_id, "reason": reason},
        )
        payment.retry_later(deps.clock(), deps.policy.retry_max, f"refused by the provider: {reason}")


async def _retry_later(step: Step, problem: str, deps: Dependencies) -> None:
    async with deps.uow() as uow:
        payment = await uow.payments.get(step.order_id, for_update=True)
        if payment is None or not payment.is_owed(step):
            return
        policy = deps.policy
        delay = backoff(payment.tries + 1, policy.retry_base.total_seconds(), policy.retry_max.total_seconds())
        payment.retry_later(deps.clock(), delay, problem)
        await uow.payments.save(payment)
        await uow.commit()
