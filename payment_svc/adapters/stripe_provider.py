"""The payment provider port on Stripe: PaymentIntents with manual capture, one idempotency key a call.

- authorize: one ``POST /v1/payment_intents`` with ``confirm=true`` and ``capture_method=manual``,
  so the card is checked and the amount held in one request; ``requires_capture`` is the
  authorization. Card-only and ``error_on_requires_action``: nobody is at the checkout to pass
  3-D Secure when the saga authorizes, so Stripe declines such a card at once instead of leaving
  an intent that waits for the customer.
- The metadata carries ``order_id``, ``customer_id`` and the ``idempotency_key``, which is how
  ``find`` recognises the intent afterwards.
- find: PaymentIntent search on that metadata. Search is eventually consistent (Stripe: usually
  under a minute behind), so a brand-new intent may not be found yet; the port's answer None
  then leads to authorizing again with the *same* key, which Stripe answers from its idempotency
  cache (24 hours) with the original intent: a late index costs a request, never a second charge.
- The SDK runs on its async HTTPX client (no thread, no blocking call) with retries off, since
  the service decides when to repeat, and on a ``StripeClient`` of its own, so no global
  ``stripe.api_key`` is ever set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import stripe

from payment_svc.adapters.stripe_errors import authorization_from_intent, declined_by_card_error, provider_error
from payment_svc.service_layer.provider import (
    Authorization,
    AuthorizationStatus,
    AuthorizeRequest,
    ProviderOutcomeUnknown,
    ProviderUnavailable,
)

T = TypeVar("T")

# Stripe's code for "this intent is not in a state that allows that call" (capture of a captured
# intent, cancel of a cancelled one), and for a refund of a charge already refunded in full.
UNEXPECTED_STATE = "payment_intent_unexpected_state"
ALREADY_REFUNDED = "charge_already_refunded"


class _HttpxClient(stripe.HTTPXClient):
    """stripe's HTTPX client, handing httpx the encoded form body as ``content``.

    stripe 16.1 passes the already encoded body as ``data=``, which httpx 0.28 deprecates for
    text (a DeprecationWarning on every POST, an error under the test suite's warning filter);
    ``content=`` sends the same bytes. The integration tests assert on those bytes.
    """

    def _get_request_args_kwargs(self, method: str, url: str, headers: Mapping[str, str], post_data: Any) -> Any:
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        if isinstance(kwargs.get("data"), str | bytes):
            kwargs["content"] = kwargs.pop("data")
        return [args, kwargs]


class StripeProvider:
    """A card processor on Stripe's API (or stripe-mock, with ``api_base`` pointing at it)."""

    def __init__(self, api_key: str, api_base: str | None, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._http = _HttpxClient(timeout=timeout_s)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=0,
        )

    @property
    def name(self) -> str:
        return "stripe"

    async def aclose(self) -> None:
        """Closes the HTTP connection pool."""
        await self._http.close_async()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated

    async def authorize(self, request: AuthorizeRequest) -> Authorization:
        create = self._client.v1.payment_intents.create_async(
            {
                "amount": request.amount_minor,
                "currency": request.currency.lower(),
                "payment_method": request.payment_method,
                "allowed_payment_method_types": ["card"],
                "capture_method": "manual",
                "confirm": True,
                "error_on_requires_action": True,
                "metadata": {
                    "order_id": request.order_id,
                    "customer_id": request.customer_id,
                    "idempotency_key": request.idempotency_key,
                },
            },
            {"idempotency_key": request.idempotency_key},
        )
        try:
            intent = await self._call(create, mutating=True, keep=(stripe.CardError,))
        except stripe.CardError as error:
            return declined_by_card_error(error, amount_minor=request.amount_minor, currency=request.currency)
        authorization = authorization_from_intent(intent)
        if authorization is None:
            raise ProviderOutcomeUnknown(f"stripe: payment intent {intent.id} is still {intent.status}")
        return authorization

    async def find(self, idempotency_key: str, order_id: str) -> Authorization | None:
        query = f"metadata['order_id']:{_quoted(order_id)} AND metadata['idempotency_key']:{_quoted(idempotency_key)}"
        found = await self._call(self._client.v1.payment_intents.search_async({"query": query, "limit": 10}))
        # The query already filters; checking again costs nothing and guards against a query
        # language that matches more loosely than string equality.
        matches = [
            intent
            for intent in found.data
            if _metadata(intent, "idempotency_key") == idempotency_key and _metadata(intent, "order_id") == order_id
        ]
        if not matches:
            return None
        answers = [authorization_from_intent(intent) for intent in matches]
        settled = [answer for answer in answers if answer is not None]
        if len(settled) < len(answers):
            raise ProviderUnavailable(f"stripe: the payment intent of {idempotency_key} is still processing")
        # One key creates one intent; should there be several, a held one is what matters.
        held = [answer for answer in settled if answer.status is AuthorizationStatus.AUTHORIZED]
        return (held or settled)[0]

    async def capture(self, provider_ref: str, amount_minor: int, idempotency_key: str) -> None:
        capture = self._client.v1.payment_intents.capture_async(
            provider_ref, {"amount_to_capture": amount_minor}, {"idempotency_key": idempotency_key}
        )
        try:
            await self._call(capture, mutating=True, keep=(stripe.InvalidRequestError,))
        except stripe.InvalidRequestError as error:
            if error.code != UNEXPECTED_STATE or await self._status(provider_ref, error) != "succeeded":
                raise provider_error(error, mutating=True) from error

    async def refund(self, provider_ref: str, amount_minor: int, idempotency_key: str, *, captured: bool) -> None:
        if not captured:
            await self._cancel(provider_ref, amount_minor, idempotency_key)
        else:
            await self._refund(provider_ref, amount_minor, idempotency_key)

    # ``settle``: on finding the intent in the other state, make the other call. The follow-up
    # itself does not settle again, so two racing state changes cannot bounce it back and forth.
    async def _cancel(self, provider_ref: str, amount_minor: int, idempotency_key: str, *, settle: bool = True) -> None:
        cancel = self._client.v1.payment_intents.cancel_async(
            provider_ref, {"cancellation_reason": "requested_by_customer"}, {"idempotency_key": idempotency_key}
        )
        try:
            await self._call(cancel, mutating=True, keep=(stripe.InvalidRequestError,))
        except stripe.InvalidRequestError as error:
            status = await self._status(provider_ref, error) if error.code == UNEXPECTED_STATE else None
            if status == "canceled":
                return
            if status == "succeeded" and settle:
                # Captured after all (a capture raced the cancel): giving the money back is a refund.
                # Its own key: Stripe's keys are account-wide, and this is another request.
                await self._refund(provider_ref, amount_minor, f"{idempotency_key}:refund", settle=False)
                return
            raise provider_error(error, mutating=True) from error

    async def _refund(self, provider_ref: str, amount_minor: int, idempotency_key: str, *, settle: bool = True) -> None:
        refund = self._client.v1.refunds.create_async(
            {"payment_intent": provider_ref, "amount": amount_minor}, {"idempotency_key": idempotency_key}
        )
        try:
            await self._call(refund, mutating=True, keep=(stripe.InvalidRequestError,))
        except stripe.InvalidRequestError as error:
            if error.code == ALREADY_REFUNDED:
                return
            status = await self._status(provider_ref, error)
            if status == "canceled":
                return  # nothing was ever taken, so nothing is owed
            if status == "requires_capture" and settle:
                # Never captured: the hold is released by cancelling, under a key of its own.
                await self._cancel(provider_ref, amount_minor, f"{idempotency_key}:cancel", settle=False)
                return
            raise provider_error(error, mutating=True) from error

    async def _status(self, provider_ref: str, error: stripe.StripeError) -> str:
        """The intent's status, from the error's copy when Stripe sent one, else read afresh."""
        intent: stripe.PaymentIntent | None = getattr(error.error, "payment_intent", None)
        if intent is None:
            intent = await self._call(self._client.v1.payment_intents.retrieve_async(provider_ref))
        return str(intent.status)

    async def _call(
        self, call: Awaitable[T], *, mutating: bool = False, keep: tuple[type[stripe.StripeError], ...] = ()
    ) -> T:
        """Awaits one SDK call within the deadline. The SDK errors in ``keep`` pass through for the
        caller to read; every other SDK failure becomes the port's."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except TimeoutError as error:
            # The request may have been sent and acted on: only a read is plainly repeatable.
            what = f"stripe: no answer within {self._timeout_s}s"
            raise (ProviderOutcomeUnknown(what) if mutating else ProviderUnavailable(what)) from error
        except stripe.StripeError as error:
            if isinstance(error, keep):
                raise
            raise provider_error(error, mutating=mutating) from error


def _metadata(intent: stripe.PaymentIntent, key: str) -> str | None:
    # StripeObject is no dict in this SDK: no .get, but ``in`` and ``[]``.
    return str(intent.metadata[key]) if key in intent.metadata else None


def _quoted(value: str) -> str:
    """A string literal of Stripe's search query language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
