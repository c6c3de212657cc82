"""Webhook rules without I/O: which URLs and secrets an endpoint may have, the jittered retry
schedule, and the delivery's state machine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from notify_svc.domain.retry_policy import RetryPolicy
from notify_svc.domain.webhooks import (
    DeliveryStatus,
    InvalidDeliveryTransition,
    JitteredRetry,
    WebhookDelivery,
    secret_from,
    secret_key,
    secret_problem,
    url_problem,
)
from tests.unit.notify.fakes import T0


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/oms", "https://hooks.example.com:8443/a?b=c", "https://93.184.216.34/x"],
)
def test_https_to_a_public_host_is_an_endpoint_everywhere(url: str) -> None:
    assert url_problem(url, development=False) is None
    assert url_problem(url, development=True) is None


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]:9000/"])
def test_plain_http_to_loopback_is_allowed_in_development_only(url: str) -> None:
    assert url_problem(url, development=True) is None
    assert "https" in (url_problem(url, development=False) or "")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example.com/x", "https"),  # http to a non-loopback host, even in development
        ("ftp://hooks.example.com/x", "https://"),
        ("hooks.example.com/x", "https://"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https://hooks.example.com/#frag", "fragment"),
        ("https://hooks.example.com:99999/", "not a URL"),
        ("https://", "https://"),
    ],
)
def test_malformed_or_insecure_urls_are_refused_with_a_reason(url: str, words: str) -> None:
    assert words in (url_problem(url, development=True) or "")


@pytest.mark.parametrize(
    "url", ["https://127.0.0.1/x", "https://localhost/x", "https://10.0.0.5/x", "https://169.254.169.254/latest"]
)
def test_outside_development_the_services_own_network_is_no_endpoint(url: str) -> None:
    assert "loopback, private or link-local" in (url_problem(url, development=False) or "")


def test_secrets_are_standard_webhooks_whsec_base64_of_24_to_64_bytes() -> None:
    good = secret_from(b"k" * 32)
    assert good.startswith("whsec_") and secret_problem(good) is None and secret_key(good) == b"k" * 32
    assert "whsec_" in (secret_problem("s3cr3t") or "")
    assert "base64" in (secret_problem("whsec_not base64!") or "")
    assert "24 to 64 bytes" in (secret_problem(secret_from(b"k" * 8)) or "")
    assert "24 to 64 bytes" in (secret_problem(secret_from(b"k" * 65)) or "")


def test_the_jittered_wait_stays_between_half_and_all_of_the_nominal_one() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=10, max_delay_s=60)
    assert JitteredRetry(policy, lambda: 0.0).delay_after(1) == timedelta(seconds=5)
    assert JitteredRetry(policy, lambda: 0.999999).delay_after(2) < timedelta(seconds=20)
    assert JitteredRetry(policy, lambda: 0.5).delay_after(3) == timedelta(seconds=30)
    # The cap applies before the jitter: never more than max_delay_s.
    assert JitteredRetry(policy, lambda: 0.999999).delay_after(30) <= timedelta(seconds=60)


def delivery() -> WebhookDelivery:
    return WebhookDelivery.pending(
        delivery_id="d-1", endpoint_id="e-1", event_id="ev-1", event_type="t", order_id="o-1", payload="{}", now=T0
    )


RETRY = JitteredRetry(RetryPolicy(max_attempts=2, base_delay_s=10, max_delay_s=60), lambda: 0.5)


def test_a_delivery_is_retried_until_its_budget_is_spent_then_failed() -> None:
    d = delivery()
    d.begin_attempt(T0, timedelta(seconds=60))
    assert d.next_attempt_at == T0 + timedelta(seconds=60)  # leased while the POST runs
    assert d.attempt_failed("HTTP 503", retriable=True, http_status=503, now=T0, retry=RETRY)
    assert (d.status, d.next_attempt_at, d.last_http_status) == (
        DeliveryStatus.PENDING,
        T0 + timedelta(seconds=7.5),
        503,
    )
    d.begin_attempt(d.next_attempt_at, timedelta(seconds=60))
    assert not d.attempt_failed("HTTP 503", retriable=True, http_status=503, now=T0, retry=RETRY)
    assert (d.status, d.attempts, d.last_error) == (DeliveryStatus.FAILED, 2, "HTTP 503")


def test_a_permanent_refusal_fails_at_once_and_an_admin_retry_starts_afresh() -> None:
    d = delivery()
    d.begin_attempt(T0, timedelta(seconds=60))
    assert not d.attempt_failed("HTTP 410", retriable=False, http_status=410, now=T0, retry=RETRY)
    assert d.status is DeliveryStatus.FAILED
    d.retry(T0 + timedelta(seconds=5))
    assert (d.status, d.attempts, d.next_attempt_at) == (DeliveryStatus.PENDING, 0, T0 + timedelta(seconds=5))
    with pytest.raises(InvalidDeliveryTransition, match="only FAILED"):
        d.retry(T0)


def test_a_delivered_delivery_cannot_change_any_more() -> None:
    d = delivery()
    d.begin_attempt(T0, timedelta(seconds=60))
    d.mark_delivered(T0, 204)
    assert (d.status, d.delivered_time, d.last_http_status) == (DeliveryStatus.DELIVERED, T0, 204)
    with pytest.raises(InvalidDeliveryTransition):
        d.attempt_failed("late", retriable=True, http_status=0, now=T0, retry=RETRY)
    with pytest.raises(InvalidDeliveryTransition):
        d.begin_attempt(T0, timedelta(seconds=1))
