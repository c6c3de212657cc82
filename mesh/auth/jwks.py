"""A JSON Web Key Set fetched from a URL, refreshed at a bounded rate.

A token names its key by ``kid``. A kid the cached set does not know may be a key the identity
provider has just rotated in, so the set is fetched again, but at most once per
``refresh_interval_s`` whatever the tokens say: a flood of tokens with made-up kids must not
turn into a flood of requests to the provider. A fetch is bounded by ``timeout_s`` and runs on
the set's own single thread (never the event loop's shared default pool, which a slow
provider would otherwise fill). A fetch that fails or answers garbage keeps the previous keys.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt

log = logging.getLogger(__name__)

# A key set is a few keys; anything much larger is not one.
MAX_JWKS_BYTES = 1 << 20


def fetch_url(url: str, timeout_s: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return bytes(response.read(MAX_JWKS_BYTES + 1))


class RemoteKeySet:
    def __init__(
        self,
        url: str,
        *,
        refresh_interval_s: float = 30.0,
        timeout_s: float = 2.0,
        max_age_s: float = 300.0,
        fetch: Callable[[str, float], bytes] = fetch_url,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._refresh_interval = refresh_interval_s
        self._timeout = timeout_s
        self._max_age = max_age_s
        self._fetch = fetch
        self._clock = clock
        self._keys: dict[str | None, Any] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._attempted_at: float | None = None  # last fetch, successful or not
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.fetches = 0  # attempts, for tests and the log

    def key_for(self, kid: str | None) -> Any | None:
        """The key for ``kid`` among the keys fetched so far (None: unknown). Never fetches."""
        keys = self._keys
        if kid is None:
            # A token without a kid is accepted only when the set leaves no doubt.
            return next(iter(keys.values())) if len(keys) == 1 else None
        return keys.get(kid)

    def refresh_due(self, kid: str | None) -> bool:
        """Whether a fetch is allowed now and could help a token with this ``kid``."""
        now = self._clock()
        if self._attempted_at is not None and now - self._attempted_at < self._refresh_interval:
            return False
        stale = self._fetched_at is None or now - self._fetched_at >= self._max_age
        return stale or self.key_for(kid) is None

    def refresh_if_due(self, kid: str | None) -> None:
        """Fetches the set when ``refresh_due``; blocks for at most the timeout. Thread-safe."""
        with self._lock:
            if not self.refresh_due(kid):
                return
            self._attempted_at = self._clock()
            self.fetches += 1
            try:
                keys = _parse(self._fetch(self.url, self._timeout))
            except Exception as exc:  # noqa: BLE001 - any failure keeps the keys we have
                log.warning(
                    "JWKS refresh failed; keeping the previous keys",
                    extra={
                        "jwks_url": self.url,
                        "error": f"{type(exc).__name__}: {exc}"[:300],
                        "keys": len(self._keys),
                    },
                )
                return
            self._keys = keys
            self._fetched_at = self._attempted_at

    async def refresh_off_loop(self, kid: str | None) -> None:
        """``refresh_if_due`` on the set's own thread, when due (checked first without a thread hop)."""
        if not self.refresh_due(kid):
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwks")
        await asyncio.get_running_loop().run_in_executor(self._executor, self.refresh_if_due, kid)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _parse(body: bytes) -> dict[str | None, Any]:
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"key set larger than {MAX_JWKS_BYTES} bytes")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("key set is not a JSON object")
    key_set = jwt.PyJWKSet.from_dict(document)  # raises when no key is usable
    return {key.key_id: key.key for key in key_set.keys}
