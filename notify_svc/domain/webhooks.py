"""Webhook endpoints and deliveries: every order event, POSTed once to every active endpoint.

A delivery follows the notification's state machine (PENDING -> DELIVERED | FAILED, FAILED ->
PENDING by an admin) with one difference: the wait between attempts carries jitter. When an
endpoint is down every delivery to it fails at the same moment, and retrying them all on the
same schedule would hit it with the whole backlog at once when it comes back.
"""

from __future__ import annotations

import base64
import binascii
import enum
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from notify_svc.domain.retry_policy import RetryPolicy

# Registered endpoints at most: every event is recorded once per endpoint in the event's own
# transaction, so the count bounds the work one event causes (and ListWebhookEndpoints' answer).
MAX_ENDPOINTS = 100
# Standard Webhooks' secret form: the prefix, then the base64 of the key's bytes.
SECRET_PREFIX = "whsec_"
SECRET_MIN_BYTES = 24
SECRET_MAX_BYTES = 64
MAX_LAST_ERROR = 1000
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class DeliveryStatus(enum.Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


class InvalidDeliveryTransition(Exception):
    def __init__(self, delivery_id: str, current: DeliveryStatus, wanted: str) -> None:
        super().__init__(f"delivery {delivery_id} is {current.value}; cannot {wanted}")
        self.delivery_id = delivery_id
        self.current = current


@dataclass
class WebhookEndpoint:
    endpoint_id: str
    url: str
    # The HMAC key in its `whsec_` form; needed in clear to sign, so it is never listed.
    secret: str
    description: str
    disabled: bool
    create_time: datetime
    update_time: datetime

    def set_disabled(self, disabled: bool, now: datetime) -> None:
        if self.disabled != disabled:
            self.disabled = disabled
            self.update_time = now


def url_problem(url: str, *, development: bool) -> str | None:
    """Why ``url`` cannot be an endpoint, or None.

    https everywhere; plain http only to a loopback address and only in development (the tests'
    receivers). Outside development an address on the service's own host or private network is
    refused too: a webhook must not become a way to make the service call its neighbours.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        return "must be an absolute https:// URL"
    if parts.username or parts.password:
        return "must not carry credentials (the signature authenticates the sender)"
    if parts.fragment:
        return "must not have a #fragment"
    if port == 0:
        return "port 0 is not a port"
    loopback = _is_loopback(host)
    if parts.scheme == "http" and not (development and loopback):
        return "must use https (http is allowed only to a loopback address in development)"
    if not development and (loopback or _is_private(host)):
        return "must not point at a loopback, private or link-local address"
    return None


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


def _is_private(host: str) -> bool:
    address = _ip(host)
    return address is not None and (address.is_private or address.is_link_local or address.is_unspecified)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def secret_problem(secret: str) -> str | None:
    if not secret.startswith(SECRET_PREFIX):
        return f"must start with {SECRET_PREFIX!r} (Standard Webhooks form)"
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        return f"must be {SECRET_PREFIX!r} followed by base64"
    if not SECRET_MIN_BYTES <= len(key) <= SECRET_MAX_BYTES:
        return f"the key must be {SECRET_MIN_BYTES} to {SECRET_MAX_BYTES} bytes, not {len(key)}"
    return None


def secret_from(key: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(key).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a valid ``whsec_`` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


@dataclass(frozen=True)
class JitteredRetry:
    """The notification's exponential policy, each wait scaled by a factor in [0.5, 1.0)
    ("equal jitter": never less than half the nominal wait, spread over the other half)."""

    policy: RetryPolicy
    # A value in [0, 1); random.random in production, fixed in tests.
    random: Callable[[], float]

    def gives_up_after(self, attempts: int) -> bool:
        return self.policy.gives_up_after(attempts)

    def delay_after(self, attempts: int) -> timedelta:
        return self.policy.delay_after(attempts) * (0.5 + self.random() / 2)


@dataclass
class WebhookDelivery:
    delivery_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    order_id: str
    # The CloudEvents JSON document, built once when the event was consumed: every attempt
    # sends the same bytes.
    payload: str
    status: DeliveryStatus
    attempts: int
    last_error: str
    last_http_status: int
    next_attempt_at: datetime
    create_time: datetime
    update_time: datetime
    delivered_time: datetime | None = None

    @classmethod
    def pending(
        cls,
        *,
        delivery_id: str,
        endpoint_id: str,
        event_id: str,
        event_type: str,
        order_id: str,
        payload: str,
        now: datetime,
    ) -> WebhookDelivery:
        return cls(
            delivery_id=delivery_id,
            endpoint_id=endpoint_id,
            event_id=event_id,
            event_type=event_type,
            order_id=order_id,
            payload=payload,
            status=DeliveryStatus.PENDING,
            attempts=0,
            last_error="",
            last_http_status=0,
            next_attempt_at=now,
            create_time=now,
            update_time=now,
        )

    def is_due(self, now: datetime) -> bool:
        return self.status is DeliveryStatus.PENDING and self.next_attempt_at <= now

    def begin_attempt(self, now: datetime, lease: timedelta) -> None:
        """Counted before the POST, the row leased: a crash mid-POST makes it due again later."""
        if not self.is_due(now):
            raise InvalidDeliveryTransition(self.delivery_id, self.status, "begin a delivery attempt")
        self.attempts += 1
        self.next_attempt_at = now + lease
        self.update_time = now

    def mark_delivered(self, now: datetime, http_status: int) -> None:
        self._require(DeliveryStatus.PENDING, "mark it delivered")
        self.status = DeliveryStatus.DELIVERED
        self.last_http_status = http_status
        self.delivered_time = now
        self.update_time = now

    def attempt_failed(
        self, error: str, *, retriable: bool, http_status: int, now: datetime, retry: JitteredRetry
    ) -> bool:
        """Records a failed attempt; True when another one is scheduled, False when FAILED."""
        self._require(DeliveryStatus.PENDING, "record a failed attempt")
        self.last_error = error if len(error) <= MAX_LAST_ERROR else error[: MAX_LAST_ERROR - 1] + "…"
        self.last_http_status = http_status
        self.update_time = now
        if not retriable or retry.gives_up_after(self.attempts):
            self.status = DeliveryStatus.FAILED
            return False
        self.next_attempt_at = now + retry.delay_after(self.attempts)
        return True

    def retry(self, now: datetime) -> None:
        """Admin retry of a FAILED delivery: a fresh budget, due now, the same delivery id."""
        self._require(DeliveryStatus.FAILED, "retry it (only FAILED deliveries can be retried)")
        self.status = DeliveryStatus.PENDING
        self.attempts = 0
        self.next_attempt_at = now
        self.update_time = now

    def _require(self, status: DeliveryStatus, wanted: str) -> None:
        if self.status is not status:
            raise InvalidDeliveryTransition(self.delivery_id, self.status, wanted)
