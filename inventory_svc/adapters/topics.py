"""The topics inventory_svc publishes to and consumes from (names without the run's prefix)."""

ORDERS = "orders"  # consumed: placements, cancellations, shipments
INVENTORY = "inventory"  # published: reservation outcomes and stock levels

DECLARED = (ORDERS, INVENTORY)
