"""Delivery counters for Prometheus (served by ``start_http_server`` in ``__main__``)."""

from __future__ import annotations

from prometheus_client import Counter

# Registered once per process in the default registry: defining a counter connects nothing.
_SENT = Counter("oms_notifications_sent_total", "Notifications the channel accepted.", ["channel"])
_FAILED = Counter("oms_notifications_failed_total", "Notifications given up on (FAILED).", ["channel"])
_RETRIED = Counter(
    "oms_notifications_retried_total", "Failed delivery attempts that were scheduled to retry.", ["channel"]
)


class PrometheusMetrics:
    def sent(self, channel: str) -> None:
        _SENT.labels(channel=channel).inc()

    def failed(self, channel: str) -> None:
        _FAILED.labels(channel=channel).inc()

    def retried(self, channel: str) -> None:
        _RETRIED.labels(channel=channel).inc()
