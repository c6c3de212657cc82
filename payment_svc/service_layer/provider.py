"""The payment provider port: what payment_svc needs from a card processor, and nothing more.

Two adapters implement it: a simulated provider (development and tests; outcomes chosen by the
payment-method token, like a real processor's test cards) and Stripe (PaymentIntents with manual
capture). Both are called with an idempotency key derived from the order and the attempt, so a
retried call never charges twice; an outcome that is unknown after a timeout is settled with
``find`` (asking the provider what it did with that key), never by calling ``authorize`` again
with a new key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol


class AuthorizationStatus(enum.Enum):
    AUTHORIZED = "authorized"  # the amount is held on the customer's card; capture moves it
    DECLINED = "declined"  # the provider refused; nothing is held


@dataclass(frozen=True)
class Authorization:
    """What the provider did with one authorization request."""

    status: AuthorizationStatus
    # The provider's id for the payment (a Stripe PaymentIntent id); empty when declined before
    # the provider created anything.
    provider_ref: str
    amount_minor: int
    currency: str
    # Machine-readable decline code ("card_declined", "insufficient_funds"); empty when authorized.
    decline_code: str = ""
    # A sentence a customer can read; empty when authorized.
    reason: str = ""


@dataclass(frozen=True)
class AuthorizeRequest:
    idempotency_key: str  # derived from (order_id, attempt): the same attempt always sends the same key
    order_id: str
    customer_id: str
    amount_minor: int  # integer minor units (cents) of ``currency``
    currency: str  # ISO 4217, upper case
    payment_method: str  # the provider's token for the customer's card, as given to PlaceOrder


class ProviderError(Exception):
    """Base of the provider's failures that are not a decline."""


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or refused service (5xx, connection refused, 429).

    The request certainly did nothing, or is safe to repeat with the same idempotency key: retry
    later with the same key.
    """


class ProviderOutcomeUnknown(ProviderError):
    """The call timed out or the connection broke after the request was sent.

    The provider may or may not have acted on it: settle with ``find`` (or repeat with the same
    idempotency key, which providers answer from their idempotency cache), never with a new key.
    """


class ProviderRejected(ProviderError):
    """The provider refused the request itself as invalid (4xx other than a decline).

    Repeating it will not help; the payment fails with this reason.
    """


class PaymentProvider(Protocol):
    """A card processor. Every method is safe to repeat with the same idempotency key."""

    @property
    def name(self) -> str:
        """Short name recorded with each payment: "simulated", "stripe"."""
        ...

    async def authorize(self, request: AuthorizeRequest) -> Authorization:
        """Hold ``amount_minor`` on the payment method (manual capture).

        Returns AUTHORIZED or DECLINED; raises ProviderUnavailable, ProviderOutcomeUnknown or
        ProviderRejected otherwise.
        """
        ...

    async def find(self, idempotency_key: str, order_id: str) -> Authorization | None:
        """What the provider did with the authorization sent under ``idempotency_key``.

        None when the provider has no record of it (the request never arrived: authorizing again
        with the same key is safe). Raises ProviderUnavailable when it cannot be asked now.
        """
        ...

    async def capture(self, provider_ref: str, amount_minor: int, idempotency_key: str) -> None:
        """Move the held amount (shipping). Capturing an already captured payment is not an error."""
        ...

    async def refund(self, provider_ref: str, amount_minor: int, idempotency_key: str, *, captured: bool) -> None:
        """Give the money back: cancel the hold if ``captured`` is False, else refund the capture.

        Refunding an already refunded or cancelled payment is not an error.
        """
        ...
