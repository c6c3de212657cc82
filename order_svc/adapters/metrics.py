"""Business metrics of the order service (Prometheus), and the Metrics port the use cases report to."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge

from order_svc.domain.status import FINAL_STATUSES, OrderStatus

ORDERS_PLACED = Counter("oms_orders_placed", "Orders accepted (PENDING)")
ORDERS_FINAL = Counter("oms_orders_final", "Orders that reached a final status", ["status"])
ORDER_TRANSITIONS = Counter("oms_order_transitions", "Status changes", ["to"])
# Set to read the live counts (bootstrap): refusals are in the gRPC metrics as RESOURCE_EXHAUSTED.
WATCH_STREAMS = Gauge("oms_order_watch_streams", "Open WatchOrder streams in this process")
WATCHED_ORDERS = Gauge("oms_order_watched_orders", "Orders being watched (one shared feed each)")
OLDEST_PENDING_AGE = Gauge(
    "oms_order_oldest_pending_age_seconds", "Age of the oldest order still PENDING (0 when there is none)"
)
PENDING_INCIDENTS = Counter(
    "oms_order_pending_incidents", "Orders found still PENDING past OMS_ORDER_PENDING_INCIDENT_AFTER_S"
)


class PrometheusMetrics:
    """The ``service_layer.ports.Metrics`` port on the counters and gauges above."""

    def order_placed(self) -> None:
        ORDERS_PLACED.inc()

    def order_moved(self, status: OrderStatus) -> None:
        ORDER_TRANSITIONS.labels(status.value).inc()
        if status in FINAL_STATUSES:
            ORDERS_FINAL.labels(status.value).inc()

    def oldest_pending_age(self, seconds: float) -> None:
        OLDEST_PENDING_AGE.set(seconds)

    def pending_incident(self) -> None:
        PENDING_INCIDENTS.inc()


def count_watches(streams: Callable[[], float], orders: Callable[[], float]) -> None:
    """The watch gauges read the live counts at scrape time (bootstrap hands them over)."""
    WATCH_STREAMS.set_function(streams)
    WATCHED_ORDERS.set_function(orders)
