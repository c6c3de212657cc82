"""Business metrics of the order service."""

from __future__ import annotations

from prometheus_client import Counter

ORDERS_PLACED = Counter("oms_orders_placed", "Orders accepted (PENDING)")
ORDERS_FINAL = Counter("oms_orders_final", "Orders that reached a final status", ["status"])
ORDER_TRANSITIONS = Counter("oms_order_transitions", "Status changes", ["to"])
