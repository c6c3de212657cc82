"""Use cases of the inventory: small handlers that take their dependencies as parameters."""
