"""The order service: orders, their lifecycle (state machine) and customers."""
