"""The topics notify_svc consumes from (names without the run's prefix)."""

ORDERS = "orders"  # consumed: every order event a customer hears about

DECLARED = (ORDERS,)
