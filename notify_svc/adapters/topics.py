"""The topics notify_svc consumes from (names without the run's prefix)."""

ORDERS = "orders"  # consumed: every order event a customer hears about
PAYMENTS = "payments"  # consumed: refunds (payment received and failed arrive as order events)

DECLARED = (ORDERS, PAYMENTS)
