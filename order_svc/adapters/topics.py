"""The topics order_svc publishes to and consumes from (names without the run's prefix)."""

ORDERS = "orders"  # published: the order events (OrderPlaced, OrderCancelled, ...)
INVENTORY = "inventory"  # consumed: reservation outcomes
PAYMENTS = "payments"  # consumed: payment outcomes

DECLARED = (ORDERS, INVENTORY, PAYMENTS)
