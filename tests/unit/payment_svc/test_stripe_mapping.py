"""How the Stripe adapter reads the SDK's exceptions and PaymentIntents, without a server."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import stripe

from payment_svc.adapters.stripe_errors import (
    GENERIC_DECLINE,
    authorization_from_intent,
    customer_reason,
    declined_by_card_error,
    provider_error,
)
from payment_svc.service_layer.provider import (
    Authorization,
    AuthorizationStatus,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
)


def intent(status: str, **fields: Any) -> stripe.PaymentIntent:
    values = {"id": "pi_1", "object": "payment_intent", "amount": 500, "currency": "eur", "status": status} | fields
    return stripe.PaymentIntent.construct_from(values, None)


def card_error(error: dict[str, Any]) -> stripe.CardError:
    body = {"error": {"type": "card_error"} | error}
    # The SDK leaves CardError's, APIConnectionError's and InvalidRequestError's __init__ unannotated.
    return stripe.CardError(error.get("message"), None, error.get("code"), json.dumps(body), 402, body)  # type: ignore[no-untyped-call]


def connection_error(cause: BaseException) -> stripe.APIConnectionError:
    try:
        raise stripe.APIConnectionError("Unexpected error communicating with Stripe.") from cause  # type: ignore[no-untyped-call]
    except stripe.APIConnectionError as error:
        return error


def http_error(kind: type[stripe.StripeError], status: int | None, **error: Any) -> stripe.StripeError:
    body = {"error": {"type": "api_error", "message": "m"} | error}
    return kind("m", json.dumps(body), status, body)


# --- declines ----------------------------------------------------------------------------------


def test_a_card_error_reads_as_a_decline_with_the_issuers_code_and_the_intent_left_behind() -> None:
    error = card_error({
        "code": "card_declined", "decline_code": "insufficient_funds", "message": "Stripe's words",
        "payment_intent": {"id": "pi_left", "object": "payment_intent", "status": "requires_payment_method"},
    })  # fmt: skip

    assert declined_by_card_error(error, amount_minor=500, currency="EUR") == Authorization(
        AuthorizationStatus.DECLINED, "pi_left", 500, "EUR", "insufficient_funds", "Your card has insufficient funds."
    )


def test_a_card_error_without_a_decline_code_keeps_the_error_code() -> None:
    error = card_error({"code": "expired_card", "message": "Your card has expired."})

    authorization = declined_by_card_error(error, amount_minor=1, currency="usd")

    assert (authorization.provider_ref, authorization.currency) == ("", "USD")
    assert (authorization.decline_code, authorization.reason) == ("expired_card", "Your card has expired.")


@pytest.mark.parametrize("code", ["fraudulent", "stolen_card", "lost_card", "pickup_card"])
def test_suspected_fraud_is_told_as_a_plain_decline(code: str) -> None:
    assert customer_reason(code, f"The card was refused: {code}") == GENERIC_DECLINE


def test_an_unknown_code_uses_stripes_customer_message_and_else_a_generic_one() -> None:
    assert customer_reason("some_new_code", "Stripe's sentence.") == "Stripe's sentence."
    assert customer_reason("some_new_code", None) == GENERIC_DECLINE
    assert customer_reason("some_new_code", "  ") == GENERIC_DECLINE


# --- intents -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["requires_capture", "succeeded"])
def test_a_held_or_captured_intent_is_authorized(status: str) -> None:
    assert authorization_from_intent(intent(status)) == Authorization(
        AuthorizationStatus.AUTHORIZED, "pi_1", 500, "EUR"
    )


def test_an_intent_back_to_requires_payment_method_is_declined_with_its_last_error() -> None:
    failure = {"type": "card_error", "code": "card_declined", "decline_code": "expired_card", "message": "m"}

    authorization = authorization_from_intent(intent("requires_payment_method", last_payment_error=failure))

    assert authorization == Authorization(
        AuthorizationStatus.DECLINED, "pi_1", 500, "EUR", "expired_card", "Your card has expired."
    )


def test_an_intent_whose_error_has_no_codes_is_a_generic_decline() -> None:
    authorization = authorization_from_intent(intent("requires_payment_method", last_payment_error={"type": "x"}))

    assert authorization is not None
    assert (authorization.decline_code, authorization.reason) == ("card_declined", GENERIC_DECLINE)


def test_a_cancelled_intent_is_declined_as_cancelled() -> None:
    authorization = authorization_from_intent(intent("canceled", last_payment_error=None))

    assert authorization is not None
    assert (authorization.status, authorization.decline_code) == (AuthorizationStatus.DECLINED, "canceled")


def test_an_intent_waiting_for_the_customer_is_declined_as_needing_authentication() -> None:
    authorization = authorization_from_intent(intent("requires_action"))

    assert authorization is not None
    assert (authorization.status, authorization.decline_code) == (
        AuthorizationStatus.DECLINED,
        "authentication_required",
    )


@pytest.mark.parametrize("status", ["processing", "requires_confirmation"])
def test_an_undecided_intent_has_no_answer_yet(status: str) -> None:
    assert authorization_from_intent(intent(status)) is None


# --- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cause", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), httpx.PoolTimeout("full")]
)
def test_a_connection_that_never_opened_is_unavailable_even_for_a_write(cause: BaseException) -> None:
    assert isinstance(provider_error(connection_error(cause), mutating=True), ProviderUnavailable)


@pytest.mark.parametrize(
    "cause", [httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped"), httpx.WriteError("reset")]
)
def test_a_write_broken_after_sending_has_an_unknown_outcome(cause: BaseException) -> None:
    assert isinstance(provider_error(connection_error(cause), mutating=True), ProviderOutcomeUnknown)


def test_a_read_broken_after_sending_is_only_unavailable() -> None:
    error = connection_error(httpx.ReadTimeout("slow"))

    assert isinstance(provider_error(error, mutating=False), ProviderUnavailable)


@pytest.mark.parametrize(
    ("kind", "status"),
    [(stripe.RateLimitError, 429), (stripe.APIError, 500), (stripe.APIError, 502), (stripe.APIError, 409)],
)
def test_rate_limits_server_errors_and_key_conflicts_are_unavailable(
    kind: type[stripe.StripeError], status: int
) -> None:
    assert isinstance(provider_error(http_error(kind, status), mutating=True), ProviderUnavailable)


@pytest.mark.parametrize(
    ("kind", "status"),
    [(stripe.AuthenticationError, 401), (stripe.PermissionError, 403), (stripe.IdempotencyError, 400)],
)
def test_refusals_of_the_request_itself_are_rejections(kind: type[stripe.StripeError], status: int) -> None:
    assert isinstance(provider_error(http_error(kind, status), mutating=True), ProviderRejected)


def test_an_invalid_request_is_a_rejection() -> None:
    body = {"error": {"type": "invalid_request_error", "code": "parameter_missing", "message": "Missing amount"}}
    error = stripe.InvalidRequestError("Missing amount", "amount", "parameter_missing", json.dumps(body), 400, body)  # type: ignore[no-untyped-call]

    assert isinstance(provider_error(error, mutating=True), ProviderRejected)


def test_an_unreadable_answer_to_a_write_has_an_unknown_outcome() -> None:
    # The SDK's APIError for a 200 whose body is not JSON: the request did arrive.
    error = stripe.APIError("Invalid response body from API: <html>", "<html>", 200)

    assert isinstance(provider_error(error, mutating=True), ProviderOutcomeUnknown)
    assert isinstance(provider_error(error, mutating=False), ProviderUnavailable)
