"""The topics payment_svc publishes to and consumes from (names without the run's prefix)."""

ORDERS = "orders"  # consumed: placements (total, customer, payment method), cancellations, shipments
INVENTORY = "inventory"  # consumed: InventoryReserved starts the authorization
PAYMENTS = "payments"  # published: authorized, captured, failed, refunded

DECLARED = (ORDERS, INVENTORY, PAYMENTS)
