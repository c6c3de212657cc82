"""Tokens verified recently, so a client's next call with the same token skips the crypto."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from mesh.auth.principal import Principal


class VerifiedTokens:
    """Tokens that passed every check, so the next request with the same token skips the crypto.

    A client sends the same bearer token with every call, and verifying it costs more than a
    cache hit by two orders of magnitude. An entry is used only inside the token's own
    ``nbf``/``exp`` window (same leeway as a full check) and at most ``max_age_s`` after it was
    verified, so a key removed from a JWKS stops being honoured within that time. Failures are
    never cached: a bad token pays the full check every time.
    """

    def __init__(self, *, leeway_s: float, max_age_s: float = 300.0, capacity: int = 4096) -> None:
        self._leeway = leeway_s
        self._max_age = max_age_s
        self._capacity = capacity
        # token -> (principal, usable from, usable until), both on the wall clock like exp/nbf
        self._entries: dict[str, tuple[Principal, float, float]] = {}
        self._lock = threading.Lock()  # JWKS verification runs in worker threads

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, usable_from, usable_until = entry
        if usable_from <= time.time() < usable_until:
            return principal
        with self._lock:
            self._entries.pop(token, None)
        return None

    def put(self, token: str, principal: Principal, claims: Mapping[str, Any]) -> None:
        now = time.time()
        usable_until = min(float(claims["exp"]) + self._leeway, now + self._max_age)
        nbf = claims.get("nbf")
        usable_from = float(nbf) - self._leeway if isinstance(nbf, int | float) else float("-inf")
        with self._lock:
            if len(self._entries) >= self._capacity:
                # Oldest first: dicts keep insertion order, and a re-verified token is re-inserted.
                del self._entries[next(iter(self._entries))]
            self._entries[token] = (principal, usable_from, usable_until)

    def __len__(self) -> int:
        return len(self._entries)
