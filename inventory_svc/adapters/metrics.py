"""Prometheus implementation of the Metrics port (module-level metrics: one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RESERVATIONS = Counter(
    "oms_inventory_reservations_total",
    "OrderPlaced events handled, by outcome (reserved, failed, unchanged).",
    ["outcome"],
)
RESERVATION_SECONDS = Histogram(
    "oms_inventory_reservation_seconds",
    "Time to reserve (or refuse) one order, database transactions included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
STOCK_EVENTS = Counter(
    "oms_inventory_order_events_total",
    "Order events handled by the inventory, by event type and outcome.",
    ["event", "outcome"],
)


class PrometheusMetrics:
    """Implements service_layer.ports.Metrics."""

    def reservation(self, outcome: str, seconds: float) -> None:
        RESERVATION_SECONDS.observe(seconds)
        RESERVATIONS.labels(outcome).inc()

    def order_event(self, event: str, outcome: str) -> None:
        STOCK_EVENTS.labels(event, outcome).inc()
