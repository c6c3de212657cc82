"""Use cases of the inventory: small handlers ``async def use_case(cmd, deps)`` that see only the ports."""
