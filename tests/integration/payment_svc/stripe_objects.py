"""Stripe-shaped objects for the Stripe adapter's tests: stripe-mock fixtures and canned answers.

Field for field what Stripe's API (2026-10) sends for a PaymentIntent, error and refund, trimmed
of the fields the adapter never reads to null or empty.
"""

from __future__ import annotations

from typing import Any


def payment_intent(
    *,
    intent_id: str = "pi_3OmsTest0000000000000001",
    status: str = "requires_capture",
    amount: int = 1234,
    currency: str = "eur",
    metadata: dict[str, str] | None = None,
    last_payment_error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    held = status == "requires_capture"
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": amount if held else 0,
        "amount_details": {},
        "amount_received": amount if status == "succeeded" else 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "manual",
        "client_secret": f"{intent_id}_secret_test",
        "confirmation_method": "automatic",
        "created": 1_780_000_000,
        "currency": currency,
        "customer": None,
        "description": None,
        "last_payment_error": last_payment_error,
        "latest_charge": "ch_3OmsTest0000000000000001" if held or status == "succeeded" else None,
        "livemode": False,
        "metadata": metadata or {},
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": "pm_card_visa",
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "processing": None,
        "receipt_email": None,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(*, intent_id: str = "pi_3OmsTest0000000000000001", amount: int = 1234) -> dict[str, Any]:
    return {
        "id": "re_3OmsTest0000000000000001",
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": "ch_3OmsTest0000000000000001",
        "created": 1_780_000_000,
        "currency": "eur",
        "metadata": {},
        "payment_intent": intent_id,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def card_error(decline_code: str, message: str, *, intent: dict[str, Any] | None = None) -> dict[str, Any]:
    """The 402 body of a declined confirmation: Stripe names the intent it left behind."""
    return {
        "error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": decline_code,
            "message": message,
            "charge": "ch_3OmsTest0000000000000002",
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
            "payment_intent": intent,
            "request_log_url": "https://dashboard.stripe.com/test/logs/req_test",
        }
    }


def invalid_request(code: str, message: str, *, intent: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": "invalid_request_error", "code": code, "message": message}
    if intent is not None:
        error["payment_intent"] = intent
    return {"error": error}


def api_error(message: str = "An unknown error occurred") -> dict[str, Any]:
    return {"error": {"type": "api_error", "message": message}}


def rate_limited() -> dict[str, Any]:
    return {
        "error": {
            "type": "invalid_request_error",
            "code": "rate_limit",
            "message": "Too many requests hit the API too quickly.",
        }
    }


def search_result(*intents: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "search_result",
        "data": list(intents),
        "has_more": False,
        "next_page": None,
        "url": "/v1/payment_intents/search",
    }
