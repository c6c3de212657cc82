"""Prometheus implementation of the Metrics port (module-level metrics: one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

PROVIDER_CALLS = Counter(
    "oms_payment_provider_calls_total",
    "Calls to the payment provider, by step (authorize, capture, refund) and outcome.",
    ["step", "outcome"],
)
PROVIDER_SECONDS = Histogram(
    "oms_payment_provider_call_seconds",
    "Time of one payment provider call, by step.",
    ["step"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
EVENTS = Counter(
    "oms_payment_events_total",
    "Order and inventory events handled by payment, by event type and outcome.",
    ["event", "outcome"],
)
PAYMENTS = Counter(
    "oms_payment_payments_total",
    "Payments reaching a status (AUTHORIZED, FAILED, CAPTURED, REFUNDED…).",
    ["status"],
)
AMOUNT = Counter(
    "oms_payment_amount_minor_total",
    "Money reaching a status, in minor units, by status and currency.",
    ["status", "currency"],
)


class PrometheusMetrics:
    """Implements service_layer.ports.Metrics."""

    def provider_call(self, step: str, outcome: str, seconds: float) -> None:
        PROVIDER_CALLS.labels(step, outcome).inc()
        PROVIDER_SECONDS.labels(step).observe(seconds)

    def payment_event(self, event: str, outcome: str) -> None:
        EVENTS.labels(event, outcome).inc()

    def payment_status(self, status: str, amount_minor: int, currency: str) -> None:
        PAYMENTS.labels(status).inc()
        if currency:
            AMOUNT.labels(status, currency).inc(amount_minor)
