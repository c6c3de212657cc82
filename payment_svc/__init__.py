"""payment_svc: the saga's payment step. It keeps its own view of each order (from the orders
topic), authorizes the order's total with a payment provider once the stock is reserved,
captures when the order ships and refunds when a paid order is cancelled; each charge exactly
once (docs/payment.md)."""
