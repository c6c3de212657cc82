"""Pure domain of orders: no I/O, only the standard library."""
