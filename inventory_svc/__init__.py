"""The inventory service: product catalog, stock levels and order reservations."""
