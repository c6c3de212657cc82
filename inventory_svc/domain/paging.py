"""What a product listing filters on; its fingerprint binds page tokens to one query."""

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

    def token_kind(self) -> str:
        """Page tokens carry this, so a token cannot be replayed against another query."""
        return f"products/{self.fingerprint()}"
