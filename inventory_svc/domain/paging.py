"""What a product listing filters on: page tokens are bound to these filters, cache keys use the fingerprint."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class ProductQuery:
    active: bool | None = None
    name_contains: str = ""

    def fingerprint(self) -> str:
        raw = json.dumps([self.active, self.name_contains], separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def filters(self) -> dict[str, str | bool | None]:
        """What a page token is bound to, so a token cannot be replayed against another query."""
        return {"active": self.active, "name_contains": self.name_contains}
