"""What happened to a payment, in domain terms (protobuf only at the edges)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaymentAuthorized:
    order_id: str
    customer_id: str
    amount_minor: int
    currency: str
    provider: str
    provider_ref: str


@dataclass(frozen=True)
class PaymentCaptured:
    order_id: str
    customer_id: str
    amount_minor: int
    currency: str
    provider_ref: str


@dataclass(frozen=True)
class PaymentFailed:
    order_id: str
    customer_id: str
    amount_minor: int
    currency: str
    reason: str
    decline_code: str = ""


@dataclass(frozen=True)
class PaymentRefunded:
    order_id: str
    customer_id: str
    amount_minor: int
    currency: str
    reason: str
    # True when a capture was refunded; False when only the hold was released.
    captured: bool


Event = PaymentAuthorized | PaymentCaptured | PaymentFailed | PaymentRefunded
