"""Business metrics of the order service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

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
