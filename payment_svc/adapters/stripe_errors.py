"""How Stripe's answers read in the provider port's terms: declines, failures and intent statuses.

Pure functions of the SDK's exceptions and PaymentIntent objects, so the mapping is tested
without a server (tests/unit/payment_svc/test_stripe_mapping.py) and the adapter stays about
the calls it makes.
"""

from __future__ import annotations

import httpx
import stripe

from payment_svc.service_layer.provider import (
    Authorization,
    AuthorizationStatus,
    ProviderError,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
)

GENERIC_DECLINE = "Your card was declined."

# What a customer reads for the issuer's decline codes (https://docs.stripe.com/declines/codes).
# Codes that mean suspected fraud read as a generic decline on purpose: Stripe advises not to
# tell a possible fraudster why the card was refused.
CUSTOMER_REASONS: dict[str, str] = {
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "invalid_cvc": "Your card's security code is incorrect.",
    "incorrect_number": "Your card number is incorrect.",
    "invalid_number": "Your card number is incorrect.",
    "invalid_expiry_month": "Your card's expiration date is incorrect.",
    "invalid_expiry_year": "Your card's expiration date is incorrect.",
    "card_velocity_exceeded": "Your card has exceeded its limit; try another card.",
    "withdrawal_count_limit_exceeded": "Your card has exceeded its limit; try another card.",
    "processing_error": "An error occurred while processing your card; try again later.",
    "authentication_required": "Your card needs authentication that this checkout cannot ask for; try another card.",
    "currency_not_supported": "Your card does not support this currency.",
    "card_not_supported": "Your card does not support this type of purchase.",
    "fraudulent": GENERIC_DECLINE,
    "lost_card": GENERIC_DECLINE,
    "stolen_card": GENERIC_DECLINE,
    "pickup_card": GENERIC_DECLINE,
    "merchant_blacklist": GENERIC_DECLINE,
    "generic_decline": GENERIC_DECLINE,
    "card_declined": GENERIC_DECLINE,
    "do_not_honor": GENERIC_DECLINE,
}

# Failures raised before any byte of the request left: repeating cannot charge twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def customer_reason(decline_code: str, stripe_message: str | None) -> str:
    """A sentence for the customer: ours for known codes, else Stripe's card-error message
    (which Stripe writes to be shown to customers), else a generic decline."""
    return CUSTOMER_REASONS.get(decline_code) or (stripe_message or "").strip() or GENERIC_DECLINE


def declined_by_card_error(error: stripe.CardError, *, amount_minor: int, currency: str) -> Authorization:
    """A 402 card_error on authorize: the issuer said no. Stripe still created a PaymentIntent
    (in requires_payment_method), whose id the error carries when it has one."""
    details = error.error
    decline_code = _text(details, "decline_code") or error.code or "card_declined"
    intent = getattr(details, "payment_intent", None)
    return Authorization(
        status=AuthorizationStatus.DECLINED,
        provider_ref=intent.id if intent is not None else "",
        amount_minor=amount_minor,
        currency=currency.upper(),
        decline_code=decline_code,
        reason=customer_reason(decline_code, error.user_message),
    )


def authorization_from_intent(intent: stripe.PaymentIntent) -> Authorization | None:
    """What a PaymentIntent says about its authorization; None while it is still undecided
    (processing, requires_confirmation), when asking again later will tell."""
    amount, currency = intent.amount, intent.currency.upper()
    if intent.status in ("requires_capture", "succeeded"):
        # succeeded: captured already (a capture that raced this read); the money is held either way.
        return Authorization(AuthorizationStatus.AUTHORIZED, intent.id, amount, currency)
    if intent.status == "requires_action":
        # error_on_requires_action makes Stripe decline these on create; an intent confirmed
        # elsewhere may still land here, and nobody is present to authenticate.
        code = "authentication_required"
        reason = customer_reason(code, None)
        return Authorization(AuthorizationStatus.DECLINED, intent.id, amount, currency, code, reason)
    if intent.status in ("requires_payment_method", "canceled"):
        failure = intent.last_payment_error
        found = _text(failure, "decline_code") or _text(failure, "code")
        code = found or ("canceled" if intent.status == "canceled" else "card_declined")
        message = _text(failure, "message")
        reason = "The payment was cancelled." if code == "canceled" else customer_reason(code, message)
        return Authorization(AuthorizationStatus.DECLINED, intent.id, amount, currency, code, reason)
    return None


def _text(stripe_object: object, name: str) -> str | None:
    """A string field of a Stripe object, None when absent: Stripe omits empty fields from some
    objects (an error's decline_code), and the SDK then raises AttributeError despite its types."""
    value = getattr(stripe_object, name, None)
    return value if isinstance(value, str) and value else None


def provider_error(error: stripe.StripeError, *, mutating: bool) -> ProviderError:
    """The port's failure for an SDK exception that is not a decline.

    ``mutating``: the call could have changed something at Stripe (create, capture, cancel,
    refund). A broken or timed-out exchange is then of unknown outcome, unless the connection
    never opened; for a read it only means "ask again later".
    """
    text = f"stripe: {type(error).__name__}: {error}"
    if isinstance(error, stripe.APIConnectionError):
        if mutating and not isinstance(error.__cause__, _NOT_SENT):
            return ProviderOutcomeUnknown(text)
        return ProviderUnavailable(text)
    if isinstance(error, stripe.RateLimitError):
        return ProviderUnavailable(text)
    if isinstance(
        error,
        stripe.InvalidRequestError | stripe.AuthenticationError | stripe.PermissionError | stripe.CardError,
    ):
        return ProviderRejected(text)
    if isinstance(error, stripe.IdempotencyError):
        # The key was used with other parameters: a bug of ours that repeating will not fix.
        return ProviderRejected(text)
    status = error.http_status
    if status is not None and (status >= 500 or status == 409):
        # 5xx: Stripe failed; 409: another request with this key is in flight. Both are answered
        # by repeating later with the same key.
        return ProviderUnavailable(text)
    if status is None or status < 400:
        # An answer that could not be read (say, a 200 whose body is not JSON): the request arrived.
        return ProviderOutcomeUnknown(text) if mutating else ProviderUnavailable(text)
    return ProviderRejected(text)
