"""Business metrics of the order service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ORDERS_PLACED = Counter("oms_orders_placed", "Orders accepted (PENDING)")
ORDERS_FINAL = Counter("oms_orders_final", "Orders that reached a final status", ["status"])
ORDER_TRANSITIONS = Counter("oms_order_transitions", "Status changes", ["to"])
# Set to read the live counts (bootstrap): refusals are in the gRPC metrics as RESOURCE_EXHAUSTED.
WATCH_STREAMS = Gauge("oms_order_watch_streams", "Open WatchOrder streams in this process")
WATCHED_ORDERS = Gauge("oms_order_watched_orders", "Orders being watched (one shared feed each)")
